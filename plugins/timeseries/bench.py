"""``apps bench timeseries``: forecasting speed of PatchTST beside the statsmodels ETS fit that every forecast
is shown next to (the peer a forecaster would otherwise run), on the shipped weekly co2 series."""

from __future__ import annotations

import sys

from core import AppsError

SERIES, SEASON = "co2", 52


def benchmark_rows(model: str | None = None, device: str = "auto", batch: int = 64) -> list[dict]:
    import torch

    from core import PeakMemory, timed
    from plugins.timeseries.backtest import ets
    from plugins.timeseries.model import load_forecaster
    from plugins.timeseries.training import load_series

    try:
        forecaster, label = load_forecaster(model, device), "PatchTST " + (model or "pooled default")
    except AppsError as exc:  # same architecture, random weights: the same speed
        from plugins.timeseries.model import Forecaster, build_model
        from plugins.timeseries.recipe import ModelSettings

        print(f"{exc.message}; measuring the default architecture with random weights", file=sys.stderr)
        forecaster, label = (
            Forecaster(build_model(ModelSettings())),
            "PatchTST default architecture, random weights",
        )
    _, values, cutoff, horizon = load_series(SERIES)[0]
    history = values[:cutoff]
    common = {
        "series": f"{SERIES} ({len(history)} weeks, horizon {horizon})",
        "threads": torch.get_num_threads(),
    }
    one = timed(lambda: forecaster.predict([history], horizon), repeat=10)["p50"]
    peer_one = timed(lambda: ets(history, horizon, SEASON), repeat=3, warmup=1)["p50"]
    with PeakMemory(forecaster.device) as memory:
        many = timed(lambda: forecaster.predict([history] * batch, horizon), repeat=3, warmup=1)["p50"]
    return [
        {
            "name": f"{label}: one forecast with intervals",
            "metric": "latency",
            "value": round(1000 * one, 2),
            "unit": "ms",
            "peer": "statsmodels ETS fit + forecast",
            "peer_value": round(1000 * peer_one, 2),
            "better": "lower",
            **common,
        },
        {
            "name": f"{label}: batch of {batch} series",
            "metric": "throughput",
            "value": round(batch / many, 1),
            "unit": "series/s",
            "peer": "statsmodels ETS, one series after another",
            "peer_value": round(1 / peer_one, 1),
            "better": "higher",
            "peak_rss_mb": round(memory.peak / 2**20, 1),
            **common,
        },
    ]
