"""Where transformer-apps keeps its files: ``$APPS_HOME`` (default ``~/.cache/transformer-apps``)."""

from __future__ import annotations

import os
from pathlib import Path


def apps_home() -> Path:
    """The cache root: downloaded models, offline default models, generated datasets."""
    return Path(os.environ.get("APPS_HOME") or Path.home() / ".cache" / "transformer-apps").expanduser()


def default_model_dir(app: str) -> Path:
    """The run directory of an app's offline default model, built by ``apps prepare APP``."""
    return apps_home() / "models" / app / "default"


def data_dir(app: str) -> Path:
    """Where an app keeps generated or downloaded datasets."""
    return apps_home() / "data" / app


def runs_dir() -> Path:
    """Default parent folder of training run directories (``./runs`` beside the user)."""
    return Path(os.environ.get("APPS_RUNS", "runs"))
