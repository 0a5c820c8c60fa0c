"""``apps prepare vit``: cache the timm default's weights when online, and build the offline default (the
app's ``default_recipe``) through the core lifecycle, then evaluate it: a model with ``none`` (the
``vit-camera`` recipe) on the held-out scenes from the reserved sources and the handwritten test split,
else on the handwritten test split."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from core import build_default, default_is_built, default_model_dir
from plugins.vit.evaluate import evaluate
from plugins.vit.model import DEFAULT_TIMM_MODEL, cached_timm_weights, create_timm


def prepare(app, force=False, download=True, overrides=(), **_ignored) -> Path:
    """Build the offline default model into ``$APPS_HOME/models/vit/default`` (kept when built, unless
    ``force``), after trying to cache the timm default's weights (``download``)."""
    if download and not cached_timm_weights(DEFAULT_TIMM_MODEL):
        _try_download(DEFAULT_TIMM_MODEL)
    target = default_model_dir(app.name)
    if default_is_built(app.name, target) and not force:
        click.echo(f"the offline default model is ready: {target} (--force rebuilds it)")
        return target
    start = time.time()
    build_default(app, app.default_recipe, target, overrides=list(overrides), force=force)
    metrics = evaluate(model=str(target), output=str(target / "eval"), quiet=True)
    click.echo(f"offline default model ready in {time.time() - start:.0f} s: {target}")
    if "heldout_accuracy" in metrics:
        click.echo(
            f"  held-out scenes from reserved sources: accuracy {metrics['heldout_accuracy']:.4f}, "
            f"none false positives {metrics['heldout_none_false_positive_rate']}\n"
            f"  handwritten test split (same source as training): accuracy {metrics['handwritten_test_accuracy']:.4f}"
        )
    else:
        click.echo(f"  handwritten test split: accuracy {metrics['accuracy']:.4f}")
    return target


def _try_download(name: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return
    try:
        create_timm(name, pretrained=True)
        click.echo(f"cached the weights of {name}")
    except Exception as exc:
        click.echo(
            f"note: could not download {name} ({str(exc).splitlines()[0][:100]}); "
            "the offline default model is used instead",
            err=True,
        )
