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

import click

from core import App
from plugins.control.recipe import ControlRecipe


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
                _env_option(
                    required=True, help_text="Environment id, or a suite (mt10: every arm task, per task)."
                ),
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
            from plugins.control.prepare import DEFAULT_RECIPES

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
                click.Option(
                    ["--suite"],
                    type=click.Choice(["mt10"]),
                    default=None,
                    help="Every arm task, shared starts and held-out paraphrases with one instructed policy.",
                ),
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
                click.Option(
                    ["--say"],
                    default=None,
                    help='Tell the arm what to do ("open the drawer"); without --env, the task it asks for.',
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
        from plugins.control.dataset import collect
        from plugins.control.suite import SUITES, collect_suite

        if env_id in SUITES:  # every task of the suite, each episode labelled with its instruction
            summary = collect_suite(env_id, episodes, out, seed, noise, overwrite)
        else:
            summary = collect(env_id, episodes, out, seed, noise, overwrite)
        click.echo(json.dumps(summary))
        return summary

    # ---- prepare and bench ----------------------------------------------------------------------
    def prepare(self, env_ids=(), force=False, **_):
        from plugins.control.prepare import prepare

        prepare(self, env_ids, force)

    def benchmark(self, env_ids=(), episodes=20, **_) -> list[dict]:
        from plugins.control.bench import benchmark_rows

        return benchmark_rows(list(env_ids) or None, episodes)

    # ---- loading ------------------------------------------------------------------------------
    def load(self, model=None, device=None, dtype=None, env_id=None):
        """Load a policy run directory (default: ``env_id``'s prepared default). Returns self."""
        from core import resolve_device
        from plugins.control.policies import load_policy
        from plugins.control.prepare import policy_dir

        self.model_dir = policy_dir(model, env_id, self)
        device = resolve_device(device or "auto")
        if device.type == "cpu":
            import torch

            torch.set_num_threads(
                1
            )  # tiny policies: one thread is fastest and leaves a core to the simulator
        self.policy = load_policy(self.model_dir, str(device))
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
        suite=None,
        model=None,
        episodes=50,
        seed=1_000_000,
        skip_expert=False,
        device="auto",
        as_json=False,
        **_,
    ):
        from plugins.control.evaluate import eval_table, evaluate

        if suite is not None:
            return self._evaluate_suite(suite, model, episodes, seed, skip_expert, device, as_json)
        env_id, policy = self._policy_for(env_id, model, device)
        report = evaluate(env_id, policy, self.model_dir, episodes, seed, skip_expert)
        click.echo(json.dumps(report, indent=2) if as_json else eval_table(report))
        return report

    def _evaluate_suite(self, suite, model, episodes, seed, skip_expert, device, as_json):
        from plugins.control.suite_eval import evaluate_suite, suite_table

        self.load(model, device, env_id=suite)
        report = evaluate_suite(self.policy, self.model_dir, episodes, seed, skip_expert)
        click.echo(json.dumps(report, indent=2) if as_json else suite_table(report))
        return report

    # ---- live run -----------------------------------------------------------------------------
    def run(
        self,
        env_id=None,
        model=None,
        expert=False,
        say=None,
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

        if say is not None:
            from plugins.control.live import task_to_say

            env_id = task_to_say(say, env_id)
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
            instruction=say,
        )

    # ---- words -------------------------------------------------------------------------------
    def command(self, text: str) -> str | None:
        """The canonical command ``text`` means: the instruction of the arm task it asks for ("pull the
        drawer open" -> "open the drawer"), else a steering word ("turn left" -> "left"), else None."""
        from plugins.control.steering import parse_command

        return parse_command(text)

    def demo(self) -> None:
        from plugins.control.demo import build_tab

        build_tab(self)
