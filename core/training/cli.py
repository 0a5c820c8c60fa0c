"""``apps train APP``: the core's options, the recipe from a name or a file with the device profile's and
the command line's overrides, and the call into :func:`core.training.engine.run_training`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core import rundir
from core.errors import AppsError
from core.rundir import is_run_dir, load_run
from core.training.engine import run_training


def train_params() -> list:
    """The core options of ``apps train APP`` (apps add their own with ``cli_options("train")``)."""
    import click

    return [
        click.Option(
            ["--recipe", "-r"],
            default=None,
            help="Recipe: a name from 'apps info APP' or a YAML file. Default: the app's default_recipe.",
        ),
        click.Argument(["overrides"], nargs=-1, metavar="[KEY=VALUE]..."),
        click.Option(["--output", "-o"], default=None, help="Run directory (default: runs/APP-RECIPE)."),
        click.Option(
            ["--resume"], is_flag=True, help="Continue from the newest whole checkpoint in the run directory."
        ),
        click.Option(
            ["--dry-run"],
            is_flag=True,
            help="Build the model, print parameters and the peak memory estimate, stop.",
        ),
        click.Option(
            ["--ignore-memory-check"], is_flag=True, help="Train even when the estimate exceeds free memory."
        ),
    ]


def resolve_recipe(app, recipe: str | None, overrides=(), output: str | None = None, resume: bool = False):
    """``(recipe object, recipe name)`` from a registered name or a YAML path plus ``key=value`` overrides."""
    from core.plugins import get_manager, suggest
    from core.recipes import load_recipe

    if app.recipe_class is None:
        raise AppsError(f"the app '{app.name}' declares no recipe_class, so it cannot be trained")
    manager = get_manager()
    if recipe is None and resume and output and (Path(output) / rundir.RECIPE_FILE).is_file():
        path, name = (
            Path(output) / rundir.RECIPE_FILE,
            load_run(output).get("recipe") if is_run_dir(output) else None,
        )
        return load_recipe(app.recipe_class, path, list(overrides)), name
    recipe = recipe or getattr(app, "default_recipe", None)
    if recipe is None:
        known = manager.recipes(app.name)
        raise AppsError(
            f"'apps train {app.name}' needs --recipe",
            hint=f"recipes of {app.name}: {', '.join(sorted(known)) or '(none)'}"
            if known
            else suggest("", known),
        )
    path = manager.recipe_path(app.name, recipe)
    name = recipe if recipe in manager.recipes(app.name) else Path(recipe).stem
    return load_recipe(app.recipe_class, path, profile_overrides(app) + list(overrides)), name


def profile_overrides(app) -> list[str]:
    """The device profile's settings for this app as ``key=value`` (only keys its recipe has), applied
    after the recipe file and before the command line's overrides."""
    import dataclasses

    from core.profiles import get_profile

    profile = get_profile()
    fields = {f.name for f in dataclasses.fields(app.recipe_class)}
    chosen = {key: value for key, value in app.profile_settings(profile).items() if key in fields}
    if chosen:
        print(
            f"device profile {profile.name}: " + ", ".join(f"{k}={v}" for k, v in chosen.items()),
            file=sys.stderr,
        )
    return [f"{key}={json.dumps(value)}" for key, value in chosen.items()]


def train_from_cli(
    app,
    recipe=None,
    overrides=(),
    output=None,
    resume=False,
    dry_run=False,
    ignore_memory_check=False,
    **options,
):
    """``apps train APP``: the app's own options (``cli_options("train")``) go to ``training_parts``."""
    loaded, name = resolve_recipe(app, recipe, overrides, output, resume)
    return run_training(
        app,
        loaded,
        run_dir=output,
        resume=resume,
        dry_run=dry_run,
        options=options,
        recipe_name=name,
        check_memory=not ignore_memory_check,
    )


def summary(run_dir: str | Path) -> str:
    """One line about a finished run (for apps that print it)."""
    info = load_run(run_dir)
    return json.dumps({k: info.get(k) for k in ("app", "recipe", "finetune", "global_step", "metrics")})
