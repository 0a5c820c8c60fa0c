"""Offline defaults: the models an app builds with its own recipes, so it works with no hub (``apps prepare``).

A default is a run directory under ``$APPS_HOME/models/APP/`` (``default`` unless the app keeps several,
one per environment or series). The lifecycle is the same for every app:

* built: the folder holds a ``run.json`` whose status is ``complete``;
* required: ``require_default`` returns the folder, or raises the one "run 'apps prepare APP'" error;
* building: ``build_default`` trains a registered recipe into ``FOLDER.building`` and swaps it in only when
  training has finished. The previous default stays usable until then; a failed or killed build leaves it
  in place, and the next build starts its staging folder afresh.

An app with a chain of recipes (a base model, then an adapter on it) calls ``build_default`` once per link.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from core.errors import AppsError
from core.paths import default_model_dir
from core.rundir import checkpoints, fsync_dir, is_run_dir, load_run

STAGING_SUFFIX = ".building"
PREVIOUS_SUFFIX = ".previous"


def _sibling(folder: Path, suffix: str) -> Path:
    return folder.with_name(folder.name + suffix)


def _complete(folder: Path) -> bool:
    return is_run_dir(folder) and load_run(folder).get("status") == "complete"


def _recover(folder: Path) -> None:
    """Finish a swap that a kill interrupted between its two renames (the folder is then missing)."""
    if folder.exists():
        return
    for candidate in (_sibling(folder, STAGING_SUFFIX), _sibling(folder, PREVIOUS_SUFFIX)):
        if _complete(candidate):
            os.replace(candidate, folder)
            return


def default_is_built(app_name: str, folder: str | Path | None = None) -> bool:
    """Whether the default in ``folder`` (default: ``$APPS_HOME/models/APP/default``) is completely built."""
    folder = Path(folder) if folder else default_model_dir(app_name)
    _recover(folder)
    return _complete(folder)


def require_default(app_name: str, folder: str | Path | None = None, takes: str = "") -> Path:
    """The built default's folder, or the error that says how to build it (``takes``: how long that is)."""
    folder = Path(folder) if folder else default_model_dir(app_name)
    if default_is_built(app_name, folder):
        return folder
    raise AppsError(
        f"the offline default of '{app_name}' is not built yet ({folder})",
        hint=f"run 'apps prepare {app_name}'{f' ({takes})' if takes else ''}, or pass --model with a run "
        f"directory from 'apps train {app_name}'.",
    )


def swap_in(staging: Path, folder: Path) -> None:
    """Put the finished ``staging`` folder in place of ``folder``, keeping the old one until it is done."""
    previous = _sibling(folder, PREVIOUS_SUFFIX)
    shutil.rmtree(previous, ignore_errors=True)
    if folder.exists():
        os.replace(folder, previous)
    os.replace(staging, folder)
    fsync_dir(folder.parent)
    shutil.rmtree(previous, ignore_errors=True)


def build_default(
    app,
    recipe_name: str,
    folder: str | Path | None = None,
    overrides=(),
    force: bool = False,
    keep_checkpoints: bool = False,
) -> Path:
    """Train ``app``'s registered recipe ``recipe_name`` into the default ``folder`` (built already and no
    ``force``: nothing to do). Checkpoints, which only resuming needs, are dropped unless kept."""
    from core.training.engine import train_recipe

    folder = Path(folder) if folder else default_model_dir(app.name)
    if default_is_built(app.name, folder) and not force:
        print(f"{app.name}: {folder} is already built (--force rebuilds it)", file=sys.stderr)
        return folder
    staging = _sibling(folder, STAGING_SUFFIX)
    shutil.rmtree(staging, ignore_errors=True)
    print(f"{app.name}: building {folder.name} with the recipe {recipe_name} (staged in {staging})", file=sys.stderr)
    train_recipe(app, recipe_name, staging, overrides)
    if not keep_checkpoints:
        for _, checkpoint in checkpoints(staging):
            shutil.rmtree(checkpoint)
    swap_in(staging, folder)
    return folder
