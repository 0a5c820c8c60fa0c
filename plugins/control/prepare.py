"""The offline defaults of the control app (``apps prepare control``): one policy per environment.

Each lives in its own folder, ``$APPS_HOME/models/control/default/ENV``, built from that environment's recipe
through the core's lifecycle (``core.build_default``). Commands that take ``--model`` fall back to the
environment's default, through ``policy_dir``.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import click

from core import AppsError, build_default, default_is_built, default_model_dir, require_default, resolve_model
from plugins.control.suite import SUITES

# The recipe behind each environment's offline default.
DEFAULT_RECIPES = {
    "CartPole-v1": "dt-cartpole",
    "Pendulum-v1": "bc-pendulum",
    "Acrobot-v1": "dt-acrobot",
    "Maze-map-v0": "dt-maze",
    "Maze-v0": "dt-maze-view",
    "mt10": "mt10-instruct",  # one instructed policy for every arm task (needs metaworld)
}
# Environments that use another one's default (same observation and action spaces).
DEFAULT_ALIASES = {"Maze-15-v0": "Maze-v0", **{env_id: "mt10" for env_id in SUITES["mt10"]}}


def default_policy_dir(env_id: str) -> Path:
    """Where the default policy of ``env_id`` lives (built or not)."""
    return default_model_dir("control") / DEFAULT_ALIASES.get(env_id, env_id)


def prepare(app, env_ids=(), force: bool = False) -> None:
    """Build the default policy of each environment in ``env_ids`` (default: every one with a recipe)."""
    for env_id in env_ids or DEFAULT_RECIPES:
        if env_id not in DEFAULT_RECIPES:
            raise AppsError(
                f"no default recipe for '{env_id}'",
                hint=f"defaults exist for {', '.join(DEFAULT_RECIPES)}; train others with "
                f"'apps train control --recipe dt-cartpole env={env_id}'",
            )
    if not env_ids and importlib.util.find_spec("metaworld") is None:
        click.echo("mt10: skipped (the arm's default needs metaworld: pip install metaworld)", err=True)
        env_ids = [env_id for env_id in DEFAULT_RECIPES if env_id != "mt10"]
    for env_id in env_ids or DEFAULT_RECIPES:
        target, name, started = default_policy_dir(env_id), DEFAULT_RECIPES[env_id], time.time()
        building = force or not default_is_built("control", target)
        build_default(app, name, folder=target, force=force)
        if building:
            click.echo(f"{env_id}: trained {name} in {time.time() - started:.0f} s -> {target}")


def policy_dir(model=None, env_id: str | None = None, app=None) -> Path:
    """The policy folder to load: ``model`` (a run directory or model folder), else ``env_id``'s built
    default (an unbuilt one is the error that says how to build it)."""
    if model is None:
        if env_id is None:
            raise AppsError("say which policy: --model RUN_DIR or --env ENV (its prepared default)")
        alias = DEFAULT_ALIASES.get(env_id, env_id)
        return require_default(
            "control", default_policy_dir(env_id), takes=f"--env {alias} builds this one only"
        )
    ref = resolve_model(str(model), app)
    if ref.kind in ("run", "folder"):
        return ref.path
    if ref.kind in ("file", "onnx"):
        raise AppsError(
            f"{model} is a file; a control policy is a folder", hint="pass a run directory from 'apps train'"
        )
    raise AppsError(f"policy folder {model} does not exist", hint="pass a run directory from 'apps train'")
