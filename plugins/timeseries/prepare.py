"""``apps prepare timeseries``: the offline defaults, each built by ``core.build_default`` with the app's own
recipes: the zero-shot pooled PatchTST (``patchtst-pretrain``, in ``models/timeseries/default``) and its
short-horizon half (``patchtst-pretrain-short``, in ``models/timeseries/default-short``), then one small
model per shipped dataset that has one (``own_model`` and ``own_settings`` in data.py, in
``models/timeseries/series-NAME``): ``patchtst-series`` for the short series (~30 s each) and, with a
two-week context, for taylor (~100 CPU-s)."""

from __future__ import annotations

from pathlib import Path

from core import build_default
from plugins.timeseries.data import DATASETS
from plugins.timeseries.model import own_model_dir, short_model_dir

PRETRAIN_RECIPE = "patchtst-pretrain"
SHORT_RECIPE = "patchtst-pretrain-short"


def prepare(app, force: bool = False, overrides=()) -> Path:
    """Build what is not built yet (everything with ``force``); ``overrides`` apply to the pooled models.
    Returns the pooled model's folder."""
    pooled = build_default(app, PRETRAIN_RECIPE, overrides=list(overrides), force=force)
    print(f"ready: {pooled}")
    short = build_default(app, SHORT_RECIPE, short_model_dir(), list(overrides), force=force)
    print(f"ready: {short}")
    for name, spec in DATASETS.items():
        if spec.own_model:
            settings = [f"dataset={name}", *spec.own_settings]
            folder = build_default(app, spec.own_model, own_model_dir(name), settings, force=force)
            print(f"ready: {folder}")
    return pooled
