"""Rolling-origin backtests, forecast metrics and the baselines every forecast is shown beside.

Windows: the last origin leaves exactly ``horizon`` points after it; each earlier origin is ``step`` points
before the next. Every method sees only the history before its origin. Metrics average over all windows:
MAE, RMSE, sMAPE (percent, 0..200) and MASE (MAE over the in-sample seasonal-naive MAE of the same history,
as in Hyndman & Koehler 2006).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from core import AppsError

METRICS = ("mae", "rmse", "smape", "mase")


def window_origins(length: int, horizon: int, n_windows: int, step: int) -> list[int]:
    """Indices where each test window starts (history is ``series[:origin]``), oldest first."""
    if n_windows < 1 or step < 1 or horizon < 1:
        raise AppsError("n_windows, step and horizon must be at least 1")
    last = length - horizon
    return [last - step * k for k in range(n_windows - 1, -1, -1)]


def mae(actual, forecast) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))))


def rmse(actual, forecast) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2)))


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent; a point where both are 0 counts as 0 error."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        2 * np.abs(actual - forecast), denominator, out=np.zeros_like(actual), where=denominator > 0
    )
    return float(100 * np.mean(ratio))


def naive_scale(history, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast on ``history`` (the MASE denominator).

    A perfectly seasonal history has a zero seasonal scale; the one-step naive scale stands in, so MASE
    stays defined (and is 0 for a perfect forecast)."""
    history = np.asarray(history, float)
    for period in (season if len(history) > season else 1, 1):
        scale = float(np.mean(np.abs(history[period:] - history[:-period])))
        if scale > 0:
            return scale
    return float("nan")


def mase(actual, forecast, history, season: int) -> float:
    return mae(actual, forecast) / naive_scale(history, season)


def score(actual, forecast, history, season: int) -> dict[str, float]:
    return {
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, history, season),
    }


# ---- baselines --------------------------------------------------------------------------------------
def seasonal_naive(history, horizon: int, season: int) -> np.ndarray:
    """Repeat the last full season (the last value when ``season`` is 1 or longer than the history)."""
    history = np.asarray(history, float)
    season = season if len(history) >= season else 1
    last = history[-season:]
    return np.resize(last, horizon) if season > 1 else np.full(horizon, history[-1])


def ets(history, horizon: int, season: int) -> np.ndarray:
    """statsmodels Holt-Winters: additive damped trend, additive season when two seasons fit the history.

    Falls back to the damped-trend fit without season, then to the seasonal naive, if the optimiser fails.
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    history = np.asarray(history, float)
    period = season
    seasonal = "add" if period > 1 and len(history) >= 2 * period + 2 else None
    attempts = [(seasonal, True), (None, True)] if seasonal else [(None, True)]
    for kind, damped in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ExponentialSmoothing(
                    history,
                    trend="add",
                    damped_trend=damped,
                    seasonal=kind,
                    seasonal_periods=period if kind else None,
                    initialization_method="estimated",
                ).fit()
                forecast = np.asarray(model.forecast(horizon), float)
            if np.all(np.isfinite(forecast)):
                return forecast
        except (ValueError, np.linalg.LinAlgError):
            continue
    return seasonal_naive(history, horizon, season)


BASELINES: dict[str, Callable] = {"seasonal_naive": seasonal_naive, "ets": ets}


def backtest(
    series: dict[str, np.ndarray],
    horizon: int,
    season: int,
    n_windows: int,
    step: int,
    methods: dict[str, Callable],
) -> dict[str, dict[str, float]]:
    """Score each ``method(histories: list[array], horizon) -> list[array]`` over all windows of all series.

    Returns ``{method: {metric: mean over windows}}`` plus ``windows`` (the count).
    """
    histories, actuals = [], []
    for uid, values in series.items():
        origins = window_origins(len(values), horizon, n_windows, step)
        if origins[0] < 2 * season + 1 and origins[0] < 8:
            raise AppsError(
                f"series '{uid}' is too short for {n_windows} backtest windows of {horizon} steps"
            )
        for origin in origins:
            histories.append(values[:origin])
            actuals.append(values[origin : origin + horizon])
    results: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        forecasts = method(histories, horizon)
        rows = [
            score(a, f[:horizon], h, season) for a, f, h in zip(actuals, forecasts, histories, strict=False)
        ]
        results[name] = {metric: float(np.nanmean([r[metric] for r in rows])) for metric in METRICS}
        results[name]["windows"] = len(rows)
    return results


def baseline_methods(season: int) -> dict[str, Callable]:
    """The baselines as backtest methods."""
    return {
        name: (lambda histories, horizon, f=function: [f(h, horizon, season) for h in histories])
        for name, function in BASELINES.items()
    }
