"""The control app: policies for robots and games, learned from scripted experts' demonstrations.

Module level stays light (no torch, no gymnasium): 'apps list' imports it. Verbs:
    apps collect control --env ENV --episodes N --out DIR     expert demonstrations -> Parquet dataset
    apps train control --recipe dt-cartpole                   Decision Transformer / causal BC policy
    apps prepare control                                      train the offline default of every env
    apps eval control --env ENV --model RUN_DIR               return, success, path ratio vs the expert
    apps run control --env ENV --render out.gif               watch it; steer with on_result words
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import click

from core import App
from core.errors import AppsError
from plugins.control.recipe import ControlRecipe

# The recipe behind each environment's offline default (``apps prepare control``).
DEFAULT_RECIPES = {
    "CartPole-v1": "dt-cartpole",
    "Pendulum-v1": "bc-pendulum",
    "Acrobot-v1": "dt-acrobot",
    "Maze-map-v0": "dt-maze",
    "Maze-v0": "dt-maze-view",
}
# Environments that use another one's default (same observation and action spaces).
DEFAULT_ALIASES = {"Maze-15-v0": "Maze-v0"}


def default_policy_dir(env_id: str) -> Path:
    from core.paths import default_model_dir

    return default_model_dir("control") / DEFAULT_ALIASES.get(env_id, env_id)


def _env_option(required=False, help_text="Environment id (see 'apps info control' / docs/control.md)."):
    return click.Option(["--env", "-e", "env_id"], required=required, default=None, help=help_text)


class ControlApp(App):
    name = "control"
    description = "Transformer policies for robots and games, learned from demonstrations"
    recipe_class = ControlRecipe
    default_recipe = "dt-cartpole"
    default_model = "per environment: $APPS_HOME/models/control/default/ENV (apps prepare control)"

    @classmethod
    def cli_options(cls, verb: str) -> list:
        from core import options

        if verb == "collect":
            return [
                _env_option(required=True),
                click.Option(["--episodes", "-n"], type=int, default=100, show_default=True),
                click.Option(
                    ["--out", "-o"],
                    default=None,
                    help="Dataset folder (default: $APPS_HOME/data/control/ENV-expert-N...).",
                ),
                click.Option(
                    ["--seed"],
                    type=int,
                    default=0,
                    show_default=True,
                    help="Reset seed of the first episode (then +1 per episode).",
                ),
                click.Option(
                    ["--noise"],
                    type=float,
                    default=0.0,
                    show_default=True,
                    help="Perturb executed actions (labels stay the expert's) to show recoveries.",
                ),
                click.Option(["--overwrite"], is_flag=True, help="Replace an existing dataset folder."),
            ]
        if verb == "prepare":
            return [
                click.Option(
                    ["--env", "-e", "env_ids"],
                    multiple=True,
                    help=f"Only these environments (default: {', '.join(DEFAULT_RECIPES)}).",
                ),
                click.Option(["--force"], is_flag=True, help="Train again even when a default exists."),
            ]
        if verb == "eval":
            return [
                _env_option(help_text="Environment (default: the one the policy was trained for)."),
                options.model(help="Policy run directory (default: the environment's prepared default)."),
                click.Option(["--episodes", "-n"], type=int, default=50, show_default=True),
                click.Option(
                    ["--seed"],
                    type=int,
                    default=1_000_000,
                    show_default=True,
                    help="Reset seed of the first episode; the default is far from training seeds.",
                ),
                click.Option(["--no-expert", "skip_expert"], is_flag=True, help="Skip the expert's figures."),
                options.device(),
                options.json_output(),
            ]
        if verb == "run":
            return [
                _env_option(help_text="Environment (default: the policy's, else CartPole-v1)."),
                options.model(help="Policy run directory (default: the environment's prepared default)."),
                click.Option(
                    ["--expert"], is_flag=True, help="Let the scripted expert act instead of a policy."
                ),
                click.Option(["--episodes", "-n"], type=int, default=1, show_default=True),
                click.Option(["--seed"], type=int, default=2_000_000, show_default=True),
                click.Option(
                    ["--render"],
                    default=None,
                    help="window, FILE.mp4 or FILE.gif (the maze view draws the planned path).",
                ),
                click.Option(
                    ["--fps"], type=float, default=None, help="Frames per second (default: the env's)."
                ),
                click.Option(
                    ["--max-steps"], type=int, default=None, help="Stop an episode after this many steps."
                ),
                click.Option(
                    ["--steer-stdin"],
                    is_flag=True,
                    help="Read steering words (left/right/up/down/pause/go/stop) from stdin.",
                ),
                options.device(),
                options.json_output(),
            ]
        if verb == "bench":
            return [
                click.Option(
                    ["--env", "-e", "env_ids"],
                    multiple=True,
                    help="Only these environments (default: all prepared).",
                ),
                click.Option(
                    ["--episodes"], type=int, default=20, show_default=True, help="Episodes in lockstep."
                ),
            ]
        return []

    # ---- training -----------------------------------------------------------------------------
    def training_parts(self, recipe):
        from plugins.control.training import training_parts

        return training_parts(recipe)

    # ---- collect ------------------------------------------------------------------------------
    def collect(self, env_id=None, episodes=100, out=None, seed=0, noise=0.0, overwrite=False, **_):
        from plugins.control.dataset import record_episodes, write_dataset
        from plugins.control.envs import env_entry

        env_entry(env_id)  # unknown ids fail before anything is written
        if episodes < 1:
            raise AppsError("--episodes must be at least 1")
        if out is None:
            from core.paths import data_dir

            out = data_dir("control") / f"{env_id}-expert-{episodes}ep-noise{noise:g}-seed{seed}"
        if Path(out).exists() and not overwrite:
            raise AppsError(f"{out} already exists", hint="choose another --out or pass --overwrite")
        started = time.time()
        recorded, info = record_episodes(env_id, episodes, seed, noise, progress=sys.stderr.isatty())
        path = write_dataset(out, recorded, info, overwrite=overwrite)
        returns = [e.total_return for e in recorded]
        summary = {
            "dataset": str(path),
            "env": env_id,
            "episodes": len(recorded),
            "frames": int(sum(e.length for e in recorded)),
            "mean_return": float(sum(returns) / len(returns)),
            "success_rate": float(sum(e.success for e in recorded) / len(recorded)),
            "seconds": round(time.time() - started, 2),
        }
        click.echo(json.dumps(summary))
        return summary

    # ---- prepare ------------------------------------------------------------------------------
    def benchmark(self, env_ids=(), episodes=20, **_) -> list[dict]:
        from plugins.control.bench import benchmark_rows

        return benchmark_rows(list(env_ids) or None, episodes)

    def prepare(self, env_ids=(), force=False, **_):
        from core.plugins import get_manager
        from core.recipes import load_recipe
        from core.training import run_training

        for env_id in env_ids or DEFAULT_RECIPES:
            if env_id not in DEFAULT_RECIPES:
                raise AppsError(
                    f"no default recipe for '{env_id}'",
                    hint=f"defaults exist for {', '.join(DEFAULT_RECIPES)}; train others with "
                    f"'apps train control --recipe dt-cartpole env={env_id}'",
                )
            target = default_policy_dir(env_id)
            if (target / "config.json").is_file() and not force:
                click.echo(f"{env_id}: default policy present at {target} (--force trains again)")
                continue
            name = DEFAULT_RECIPES[env_id]
            recipe = load_recipe(ControlRecipe, get_manager().recipe_path("control", name))
            staging = target.with_name(target.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            started = time.time()
            run_training(self, recipe, run_dir=staging, recipe_name=name)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
            click.echo(f"{env_id}: trained {name} in {time.time() - started:.0f} s -> {target}")

    # ---- loading ------------------------------------------------------------------------------
    def load(self, model=None, device=None, dtype=None, env_id=None):
        """Load a policy run directory (default: ``env_id``'s prepared default). Returns self."""
        from core.device import resolve_device
        from plugins.control.policies import load_policy

        if model is None:
            if env_id is None:
                raise AppsError("say which policy: --model RUN_DIR or --env ENV (its prepared default)")
            model = default_policy_dir(env_id)
            if not (model / "config.json").is_file():
                raise AppsError(
                    f"no default policy for {env_id} at {model}",
                    hint=f"build it with 'apps prepare control --env {DEFAULT_ALIASES.get(env_id, env_id)}'"
                    f", pass --model RUN_DIR, or watch the expert with --expert",
                )
        if not Path(model).exists():
            raise AppsError(
                f"policy folder {model} does not exist", hint="pass a run directory from 'apps train'"
            )
        self.model_dir = Path(model)
        device = resolve_device(device or "auto")
        if device.type == "cpu":
            import torch

            torch.set_num_threads(
                1
            )  # tiny policies: one thread is fastest and leaves a core to the simulator
        self.policy = load_policy(model, str(device))
        return self

    def _policy_for(self, env_id, model, device):
        """``(env_id, policy)`` after checking the policy fits the environment."""
        from plugins.control.envs import env_entry, make_env
        from plugins.control.rollout import check_compatible

        if env_id is not None:
            env_entry(env_id)
        self.load(model, device, env_id=env_id)
        control = self.policy.config.control
        env_id = env_id or control["env"]
        env = make_env(env_id)
        check_compatible(control, env_id, env, str(self.model_dir))
        env.close()
        return env_id, self.policy

    # ---- evaluation ---------------------------------------------------------------------------
    def evaluate(
        self,
        env_id=None,
        model=None,
        episodes=50,
        seed=1_000_000,
        skip_expert=False,
        device="auto",
        as_json=False,
        **_,
    ):
        from plugins.control.rollout import run_episodes, summarize

        env_id, policy = self._policy_for(env_id, model, device)
        started = time.time()
        rows = run_episodes(env_id, episodes, seed, policy=policy, progress=sys.stderr.isatty())
        report = {
            "env": env_id,
            "model": str(self.model_dir),
            "seed": seed,
            "policy": {**summarize(rows), "seconds": round(time.time() - started, 2)},
        }
        if not skip_expert:
            report["expert"] = summarize(run_episodes(env_id, episodes, seed, policy=None))
            expert_mean = report["expert"]["mean_return"]
            if expert_mean != 0:
                report["return_vs_expert"] = report["policy"]["mean_return"] / expert_mean
        if as_json:
            click.echo(json.dumps(report, indent=2))
        else:
            click.echo(_eval_table(report))
        return report

    # ---- live run -----------------------------------------------------------------------------
    def run(
        self,
        env_id=None,
        model=None,
        expert=False,
        episodes=1,
        seed=2_000_000,
        render=None,
        fps=None,
        max_steps=None,
        steer_stdin=False,
        device="auto",
        as_json=False,
        **_,
    ):
        from plugins.control.live import run_live

        if expert:
            from plugins.control.envs import env_entry

            env_id = env_id or "CartPole-v1"
            env_entry(env_id)
            policy = None
        else:
            if model is None and env_id is None:
                env_id = "CartPole-v1"
            env_id, policy = self._policy_for(env_id, model, device)
        return run_live(
            self,
            env_id,
            policy,
            episodes=episodes,
            seed=seed,
            render=render,
            fps=fps,
            max_steps=max_steps,
            steer_stdin=steer_stdin,
            as_json=as_json,
        )

    def demo(self) -> None:
        from plugins.control.demo import build_tab

        build_tab(self)


def _eval_table(report: dict) -> str:
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
