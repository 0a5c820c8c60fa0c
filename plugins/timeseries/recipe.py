"""The timeseries recipe: core training settings plus PatchTST shape and how series become windows.

No torch here: the CLI validates recipes before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union

from core import Recipe

# The registered recipes (recipes/NAME.yaml) and what each builds, for 'apps info timeseries'.
RECIPES = {
    "patchtst-pretrain": "zero-shot PatchTST pre-trained on the generated corpus and shipped series (default)",
    "patchtst-pretrain-medium": "the default's medium-horizon model (9-18 steps: monthly, weekly, daily), same corpus",
    "patchtst-pretrain-short": "the default's short-horizon model (<= 8 steps: yearly, quarterly), same corpus",
    "patchtst-finetune": "adapt the pooled PatchTST to one target series (dataset=NAME or a CSV path)",
    "patchtst-series": "a small PatchTST trained on one short series alone (yearly/monthly; dataset=NAME)",
}


@dataclass
class ModelSettings:
    """The PatchTST shape (also the recipe's keys of the same names)."""

    context_length: int = 384
    prediction_length: int = 48
    patch_length: int = 16
    patch_stride: int = 8
    d_model: int = 64
    num_layers: int = 3
    num_heads: int = 4
    ffn_dim: int = 128
    dropout: float = 0.1
    distribution: str = "student_t"  # student_t | normal


@dataclass
class TimeseriesRecipe(Recipe, ModelSettings):
    """``model``: empty to pre-train from scratch, ``default`` (the prepared pooled model) or a run
    directory to fine-tune. ``dataset``: the target of a fine-tune (shipped name or CSV path).
    ``pool``: the series of a pre-training (shipped names, ``extra:NAME`` package series, CSV paths)."""

    pool: list[str] = field(default_factory=list)
    freq: Union[str, None] = None  # noqa: UP007  (CSV targets: frequency when it cannot be inferred)
    # Leakage guard: the last n_windows backtest windows of every shipped series stay out of training.
    n_windows: int = 5
    # Model selection (selection.py): the last `holdout` windows of each series' horizon, before the backtest
    # region, stay out of training; every `select_steps` steps the best-forecasting weights are kept.
    holdout: int = 0
    select_steps: int = 10
    min_history: int = 32  # least real context a training window keeps (the rest is masked padding)
    train_stride: int = 1
    min_windows: int = 0  # repeat the windows of short series up to this many (balances the pool)
    synthetic: int = 0  # generated series added to a pre-training pool (synthetic.py), seeded by `seed`
    synthetic_share: float = 0.5  # fraction of the training windows cut from the synthetic series
    mixup: int = 0  # TSMixup combinations of generated and real series added to the corpus
    # Share of the generated series of the strong-trend kind (synthetic.py ``_trend``: linear, exponential,
    # damped, logistic, piecewise; multiplicative seasons). 0: the corpus of the first zero-shot default.
    trend_share: float = 0.0
    # Fraction of training windows whose context is cut to a random shorter length (the rest masked), so
    # one model learns to forecast from a few yearly points as well as from a full hourly context.
    truncate: float = 0.0
    # Width factor of the prediction intervals (forecast.json): the Student-t head's intervals, scaled so
    # that 80% intervals cover about 80% on the validation series (synthetic and shipped, never reserved).
    interval_scale: float = 1.0

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        **Recipe.CHOICES,
        "distribution": ("student_t", "normal"),
    }
