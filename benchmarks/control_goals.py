"""The control plugin's goals, measured: train each default recipe, time it, evaluate it beside the expert.

    python benchmarks/control_goals.py [--env Maze-v0 ...] [--runs DIR] [--skip-train] [--json]

Goals (issue 8): CartPole-v1 >= 95% of 50 episodes reach 500 steps; Pendulum-v1 mean return within 10% of
the expert's; Maze-v0 >= 95% success on 100 unseen mazes with mean path length <= 1.1x the shortest;
each default policy trains in under 5 minutes on 2 CPU cores. Prints one row per environment.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

EPISODES = {"CartPole-v1": 50, "Pendulum-v1": 50, "Acrobot-v1": 50, "Maze-v0": 100}


def goal_met(env_id: str, policy: dict, expert: dict) -> bool | None:
    if env_id == "CartPole-v1":
        return policy["success_rate"] >= 0.95
    if env_id == "Pendulum-v1":
        return abs(policy["mean_return"] - expert["mean_return"]) <= 0.10 * abs(expert["mean_return"])
    if env_id.startswith("Maze"):
        return policy["success_rate"] >= 0.95 and (policy["mean_path_ratio"] or 99) <= 1.1
    return None


def main() -> None:
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from core.training import run_training
    from plugins.control.app import DEFAULT_RECIPES, ControlApp
    from plugins.control.policies import load_policy
    from plugins.control.recipe import ControlRecipe
    from plugins.control.rollout import run_episodes, summarize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="environments (default: every default recipe)")
    parser.add_argument("--runs", default="runs/control-goals", help="where the run directories go")
    parser.add_argument("--skip-train", action="store_true", help="evaluate existing runs only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # tiny policies: one thread is fastest, as in 'apps eval control'
    rows = []
    for env_id in args.env or list(DEFAULT_RECIPES):
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
        episodes = EPISODES.get(env_id, 50)
        row["policy"] = summarize(run_episodes(env_id, episodes, 1_000_000, policy=policy))
        row["expert"] = summarize(run_episodes(env_id, episodes, 1_000_000))
        row["goal_met"] = goal_met(env_id, row["policy"], row["expert"])
        rows.append(row)
        if not args.json:
            p, e = row["policy"], row["expert"]
            print(
                f"{env_id:12} train {row.get('train_wall_s', '-')} s (trainer {row['trainer_runtime_s']} s)  "
                f"policy {p['mean_return']:.1f}±{p['std_return']:.1f} success {p['success_rate']} "
                f"path {p.get('mean_path_ratio')}  expert {e['mean_return']:.1f}±{e['std_return']:.1f}  "
                f"goal met: {row['goal_met']}",
                flush=True,
            )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
