"""``apps prepare timeseries``: the offline defaults, each built by ``core.build_default`` with the app's own
recipes: the zero-shot pooled PatchTST (``patchtst-pretrain``, in ``models/timeseries/default``) and its
short-horizon half (``patchtst-pretrain-short``, in ``models/timeseries/default-short``), then one small
model per shipped short series (``patchtst-series``, in ``models/timeseries/series-NAME``, ~30 s each)."""

from __future__ import annotations

from pathlib import Path

from core import build_default
from plugins.timeseries.data import DATASETS
from plugins.timeseries.model import own_model_dir, short_model_dir

PRETRAIN_RECIPE = "patchtst-pretrain"
SHORT_RECIPE = "patchtst-pretrain-short"
SERIES_RECIPE = "patchtst-series"


def prepare(app, force: bool = False, overrides=()) -> Path:
    """Build what is not built yet (everything with ``force``); ``overrides`` apply to the pooled models.
    Returns the pooled model's folder."""
    pooled = build_default(app, PRETRAIN_RECIPE, overrides=list(overrides), force=force)
    print(f"ready: {pooled}")
    short = build_default(app, SHORT_RECIPE, short_model_dir(), list(overrides), force=force)
    print(f"ready: {short}")
    for name, spec in DATASETS.items():
        if spec.own_model:
            folder = build_default(app, SERIES_RECIPE, own_model_dir(name), [f"dataset={name}"], force=force)
            print(f"ready: {folder}")
    return pooled
