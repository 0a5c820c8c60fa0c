"""The control plugin's goals, measured: train each default recipe, time it, evaluate it beside the expert.

    python benchmarks/control_goals.py [--env Maze-map-v0 ...] [--runs DIR] [--skip-train] [--json]

Goals (issue 8): CartPole-v1 >= 95% of 50 episodes reach 500 steps; Pendulum-v1 mean return within 10% of
the expert's; mazes >= 95% success on 100 unseen mazes with mean path length <= 1.1x the shortest, here
on each of three sets of 100 (reset seeds from 1, 3 and 5 million; training uses seeds below 10,000);
each default policy trains in under 5 minutes on 2 CPU cores. Prints one row per environment.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

EPISODES = {"CartPole-v1": 50, "Pendulum-v1": 50, "Acrobot-v1": 50}  # mazes: 100 per seed set
# unseen reset seeds: mazes are played on every set, the other tasks on the first
SEED_SETS = (1_000_000, 3_000_000, 5_000_000)


def goal_met(env_id: str, policy: dict, expert: dict) -> bool | None:
    if env_id == "CartPole-v1":
        return policy["success_rate"] >= 0.95
    if env_id == "Pendulum-v1":
        return abs(policy["mean_return"] - expert["mean_return"]) <= 0.10 * abs(expert["mean_return"])
    if env_id.startswith("Maze"):
        return policy["success_rate"] >= 0.95 and (policy["mean_path_ratio"] or 99) <= 1.1
    return None


def _ratio(summary: dict) -> str:
    ratio = summary.get("mean_path_ratio")
    return "-" if ratio is None else f"{ratio:.3f}x"


def main() -> None:
    from core import get_manager, load_recipe, run_training
    from plugins.control.app import ControlApp
    from plugins.control.policies import load_policy
    from plugins.control.prepare import DEFAULT_RECIPES
    from plugins.control.recipe import ControlRecipe
    from plugins.control.rollout import run_episodes, summarize
    from plugins.control.suite import SUITES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="environments (default: every default recipe)")
    parser.add_argument("--runs", default="runs/control-goals", help="where the run directories go")
    parser.add_argument("--skip-train", action="store_true", help="evaluate existing runs only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # tiny policies: one thread is fastest, as in 'apps eval control'
    rows = []
    # the arm's suite policy is measured by 'apps eval control --suite mt10' (tasks, shared starts, paraphrases)
    for env_id in args.env or [e for e in DEFAULT_RECIPES if e not in SUITES]:
        name = DEFAULT_RECIPES[env_id]
        run_dir = Path(args.runs) / name
        row = {"env": env_id, "recipe": name, "cpu_threads": os.cpu_count()}
        if not args.skip_train:
            recipe = load_recipe(ControlRecipe, get_manager().recipe_path("control", name))
            started = time.time()
            run_training(ControlApp(), recipe, run_dir=run_dir, recipe_name=name)
            row["train_wall_s"] = round(time.time() - started, 1)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        row["trainer_runtime_s"] = round(metrics.get("train_runtime", 0), 1)
        policy = load_policy(run_dir)
        seed_sets = SEED_SETS if env_id.startswith("Maze") else SEED_SETS[:1]
        episodes = EPISODES.get(env_id, 100)
        row["sets"] = []
        for seed in seed_sets:
            result = {
                "seed": seed,
                "policy": summarize(run_episodes(env_id, episodes, seed, policy=policy)),
                "expert": summarize(run_episodes(env_id, episodes, seed)),
            }
            result["goal_met"] = goal_met(env_id, result["policy"], result["expert"])
            row["sets"].append(result)
        met = [s["goal_met"] for s in row["sets"]]
        row["goal_met"] = None if None in met else all(met)
        rows.append(row)
        if not args.json:
            for result in row["sets"]:
                p, e = result["policy"], result["expert"]
                print(
                    f"{env_id:12} train {row.get('train_wall_s', '-')} s (trainer {row['trainer_runtime_s']} s)  "
                    f"seeds {result['seed']}+: policy {p['mean_return']:.1f}±{p['std_return']:.1f} "
                    f"success {p['success_rate']} path {_ratio(p)}  "
                    f"expert {e['mean_return']:.1f}±{e['std_return']:.1f} path {_ratio(e)}  "
                    f"goal met: {result['goal_met']}",
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
