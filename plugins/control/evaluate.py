"""``apps eval control``: a policy and the scripted expert on the same unseen seeds, side by side."""

from __future__ import annotations

import sys
import time

from plugins.control.rollout import run_episodes, summarize


def evaluate(
    env_id: str, policy, model_dir, episodes: int = 50, seed: int = 1_000_000, skip_expert: bool = False
) -> dict:
    """The report: the policy's summary (return, success, path ratio), the expert's, and their return ratio."""
    started = time.time()
    rows = run_episodes(env_id, episodes, seed, policy=policy, progress=sys.stderr.isatty())
    report = {
        "env": env_id,
        "model": str(model_dir),
        "seed": seed,
        "policy": {**summarize(rows), "seconds": round(time.time() - started, 2)},
    }
    if not skip_expert:
        report["expert"] = summarize(run_episodes(env_id, episodes, seed, policy=None))
        expert_mean = report["expert"]["mean_return"]
        if expert_mean != 0:
            report["return_vs_expert"] = report["policy"]["mean_return"] / expert_mean
    return report


def eval_table(report: dict) -> str:
    """The report as a small text table (what ``apps eval control`` prints without ``--json``)."""
    lines = [
        f"{report['env']}  ({report['policy']['episodes']} episodes, seeds from {report['seed']})",
        f"{'':8}{'return mean':>12}{'std':>9}{'success':>9}{'path/shortest':>15}",
    ]
    for who in ("policy", "expert"):
        row = report.get(who)
        if not row:
            continue
        success = "-" if row["success_rate"] is None else f"{100 * row['success_rate']:.0f}%"
        ratio = row.get("mean_path_ratio")
        ratio_text = "-" if ratio is None else f"{ratio:.3f}"
        lines.append(
            f"{who:8}{row['mean_return']:>12.2f}{row['std_return']:>9.2f}{success:>9}{ratio_text:>15}"
        )
    if "return_vs_expert" in report:
        lines.append(f"policy return / expert return: {report['return_vs_expert']:.3f}")
    return "\n".join(lines)
