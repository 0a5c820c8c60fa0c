"""``apps bench control``: how fast each prepared default policy acts, beside the scripted expert it learnt
from (the controller a robot would otherwise run): milliseconds per decision for one robot, and environment
steps per second for many simulated in lockstep (the way evaluation and DAgger play)."""

from __future__ import annotations

import time

from core import AppsError, PeakMemory, default_is_built

BENCH_ENV = {"mt10": "pick-place-v3"}  # a suite's policy is timed on one of its tasks


def _decision_ms(env_id: str, policy, repeats: int = 200) -> float:
    """Milliseconds for one decision alone (one robot, its real observations), no simulation."""
    from plugins.control.envs import make_env
    from plugins.control.policies import runner_for

    env = make_env(env_id)
    obs, _ = env.reset(seed=3_000_000)
    runner = runner_for(policy, 1, env_id)
    runner.act([obs])
    began = time.perf_counter()
    for _ in range(repeats):
        runner.act([obs])
    env.close()
    return 1000 * (time.perf_counter() - began) / repeats


def _steps_per_second(env_id: str, episodes: int, seed: int, batch: int, policy=None) -> float:
    from plugins.control.rollout import run_episodes

    began = time.perf_counter()
    rows = run_episodes(env_id, episodes, seed, policy=policy, batch=batch)
    return sum(row["length"] for row in rows) / (time.perf_counter() - began)


def benchmark_rows(env_ids=None, episodes: int = 20) -> list[dict]:
    """Two rows per built default (``env_ids``: only these): latency of one environment, throughput of
    ``episodes`` in lockstep, each beside the expert's."""
    import torch

    from plugins.control.policies import load_policy
    from plugins.control.prepare import DEFAULT_RECIPES, default_policy_dir

    ready = [e for e in (env_ids or DEFAULT_RECIPES) if default_is_built("control", default_policy_dir(e))]
    if not ready:
        raise AppsError("no prepared control policy to measure", hint="run 'apps prepare control' first")
    torch.set_num_threads(1)  # as 'apps run|eval control' act: tiny policies are fastest on one thread
    rows = []
    for name in ready:
        policy = load_policy(default_policy_dir(name))
        env_id, kind = BENCH_ENV.get(name, name), type(policy).__name__
        seed, common = 3_000_000, {"threads": torch.get_num_threads()}
        single = _steps_per_second(env_id, 2, seed, 1, policy)
        single_expert = _steps_per_second(env_id, 2, seed, 1)
        with PeakMemory() as memory:
            many = _steps_per_second(env_id, episodes, seed, episodes, policy)
        many_expert = _steps_per_second(env_id, episodes, seed, episodes)
        rows.append(
            {
                "name": f"{env_id} {kind}: one environment, decision + simulation step",
                "metric": "latency",
                "value": round(1000 / single, 3),
                "unit": "ms/step",
                "peer": "scripted expert",
                "peer_value": round(1000 / single_expert, 3),
                "better": "lower",
                **common,
            }
        )
        rows.append(
            {
                "name": f"{env_id} {kind}: {episodes} environments in lockstep",
                "metric": "throughput",
                "value": round(many, 1),
                "unit": "steps/s",
                "peer": "scripted expert",
                "peer_value": round(many_expert, 1),
                "better": "higher",
                "peak_rss_mb": round(memory.peak / 2**20, 1),
                **common,
            }
        )
        if name in BENCH_ENV:  # the suite policy's goal is per decision (<= 10 ms)
            rows.append(
                {
                    "name": f"{env_id} {kind}: one decision (policy only)",
                    "metric": "latency",
                    "value": round(_decision_ms(env_id, policy), 3),
                    "unit": "ms/decision",
                    "better": "lower",
                    **common,
                }
            )
    return rows
