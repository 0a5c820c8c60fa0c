"""Model selection on a held-out tail: a fine-tune keeps the weights that forecast that tail best.

A short target series gives a fine-tune few windows, so a fixed number of steps either under-fits or
over-fits it. The last ``holdout`` windows of the target's horizon (all before the backtest region) are kept
out of training; every ``select_steps`` steps, and once before the first step, the model forecasts them
exactly as ``apps eval`` would (same recursion, point = median), and the weights with the lowest mean
scaled error are restored at the end. So a fine-tune never ends worse on its holdout than it started.
"""

from __future__ import annotations

import copy

import numpy as np
from transformers import TrainerCallback

from plugins.timeseries.backtest import mae, naive_scale, window_origins


def holdout_windows(values: np.ndarray, horizon: int, windows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(history, actual)`` for the last ``windows`` windows of ``horizon`` steps, stepped by the horizon."""
    return [
        (values[:origin], values[origin : origin + horizon])
        for origin in window_origins(len(values), horizon, windows, horizon)
    ]


class BestOnHoldout(TrainerCallback):
    """Scores the model on the holdout windows during training and restores the best weights at the end."""

    def __init__(self, windows: list[tuple[np.ndarray, np.ndarray]], every: int):
        self.windows = windows
        self.every = max(1, every)
        self.best: tuple[float, int, dict] | None = None
        self.history: list[tuple[int, float]] = []

    def score(self, model) -> float:
        from plugins.timeseries.model import Forecaster

        device = next(model.parameters()).device
        forecaster = Forecaster(model, device=str(device))  # switches to eval mode
        try:
            errors = []
            for history, actual in self.windows:
                point = forecaster.predict([history], len(actual), quantiles=())["point"][0]
                errors.append(mae(actual, point) / naive_scale(history, 1))
        finally:
            model.train()
        return float(np.mean(errors))

    def _consider(self, model, step: int) -> None:
        error = self.score(model)
        self.history.append((step, round(error, 6)))
        if self.best is None or error < self.best[0]:
            self.best = (error, step, copy.deepcopy(model.state_dict()))

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.best is None:
            self._consider(model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._consider(model, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every:
            self._consider(model, state.global_step)
        model.load_state_dict(self.best[2])

    def summary(self) -> dict:
        """What ``forecast.json`` records: the chosen step and the holdout error at each check."""
        if self.best is None:
            return {}
        return {"best_step": self.best[1], "best_error": round(self.best[0], 6), "checks": self.history}
