"""``apps prepare timeseries``: the offline defaults, each built by ``core.build_default`` with the app's own
recipes: the zero-shot pooled PatchTST (``patchtst-pretrain``, in ``models/timeseries/default``) and its
models for shorter horizons (``HORIZON_MODELS``: ``patchtst-pretrain-medium`` in ``default-medium``,
``patchtst-pretrain-short`` in ``default-short`` and, from seeds 43 and 44, beside it), then one small
model per shipped dataset that has one (``own_model`` and ``own_settings`` in data.py, in
``models/timeseries/series-NAME``): ``patchtst-series`` for the short series (~30 s each) and, with a
two-week context, for taylor (~100 CPU-s)."""

from __future__ import annotations

from pathlib import Path

from core import build_default
from plugins.timeseries.data import DATASETS
from plugins.timeseries.model import horizon_models, own_model_dir

PRETRAIN_RECIPE = "patchtst-pretrain"


def prepare(app, force: bool = False, overrides=()) -> Path:
    """Build what is not built yet (everything with ``force``); ``overrides`` apply to the pooled models.
    Returns the pooled model's folder."""
    pooled = build_default(app, PRETRAIN_RECIPE, overrides=list(overrides), force=force)
    print(f"ready: {pooled}")
    for folder, (recipe, settings) in horizon_models().items():
        print(f"ready: {build_default(app, recipe, folder, [*settings, *overrides], force=force)}")
    for name, spec in DATASETS.items():
        if spec.own_model:
            settings = [f"dataset={name}", *spec.own_settings]
            folder = build_default(app, spec.own_model, own_model_dir(name), settings, force=force)
            print(f"ready: {folder}")
    return pooled
