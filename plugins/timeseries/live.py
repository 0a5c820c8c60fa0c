"""``apps run timeseries``: forecast a CSV or a shipped dataset, print or emit the forecasts beside the
baselines, and with ``--follow`` forecast again whenever rows are appended to the CSV."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from core import AppsError
from plugins.timeseries import data as tsdata
from plugins.timeseries.backtest import ets, seasonal_naive
from plugins.timeseries.model import load_forecaster
from plugins.timeseries.plot import plot_forecast


def forecast_table(forecaster, table, horizon: int, level: float, season: int) -> list[dict]:
    """One result dict per series: future timestamps, point forecast, interval and the baselines."""
    import pandas as pd

    lo_q, hi_q = (100 - level) / 200, 1 - (100 - level) / 200
    series = tsdata.series_arrays(table)
    histories = list(series.values())
    freq = table.attrs["freq"]
    for uid, values in series.items():
        tsdata.check_length(uid, len(values), tsdata.min_length(freq), "forecasting", freq)
    predicted = forecaster.predict(histories, horizon, quantiles=(lo_q, hi_q))
    model = forecaster.source(horizon)
    results = []
    for i, (uid, values) in enumerate(series.items()):
        last = table.loc[table[tsdata.ID] == uid, tsdata.DS].iloc[-1]
        future = pd.date_range(last, periods=horizon + 1, freq=freq)[1:]
        results.append(
            {
                "unique_id": uid,
                "ds": [str(ts) for ts in future],
                "forecast": _rounded(predicted["point"][i]),
                "lo": _rounded(predicted[f"q{lo_q:g}"][i]),
                "hi": _rounded(predicted[f"q{hi_q:g}"][i]),
                "level": level,
                "seasonal_naive": _rounded(seasonal_naive(values, horizon, season)),
                "ets": _rounded(ets(values, horizon, season)),
                "history_points": len(values),
                "model": model,
            }
        )
    return results


def _rounded(values) -> list[float]:
    import numpy as np

    return np.asarray(values, dtype=np.float64).round(6).tolist()


def run(
    app,
    source: tsdata.InputSource = tsdata.InputSource(),
    horizon=None,
    model=None,
    device="auto",
    level=80.0,
    plot=None,
    follow=False,
    poll=1.0,
    max_updates=None,
    as_json=False,
    **_,
):
    csv, dataset = source.csv, source.dataset
    if not 0 < level < 100:
        raise AppsError(f"--level {level} must be between 0 and 100 (percent)")
    if follow and not csv:
        raise AppsError("--follow watches a CSV file", hint="use it with --csv FILE")
    forecaster = load_forecaster(model, device, dataset)
    updates = 0
    while True:
        # The signature is taken before reading, so rows appended while we forecast trigger the next round.
        signature = _file_signature(csv) if follow else None
        try:
            table, spec = source.load()
        except AppsError as exc:
            if not follow or updates == 0:
                raise
            tsdata.warn(f"{exc} (waiting for the next change)")  # e.g. a row caught half-written
            _wait_for_change(csv, signature, poll)
            continue
        h = horizon or (spec.horizon if spec else tsdata.default_horizon(table.attrs["freq"]))
        season = spec.season if spec else tsdata.default_season(table.attrs["freq"])
        results = forecast_table(forecaster, table, h, level, season)
        where = csv or f"dataset:{dataset}"
        for result in results:
            app.emit(result, source=where)
        _print_forecasts(results, as_json)
        if plot:
            plot_forecast(table, results, plot, title=where, season=season)
            if not as_json:
                print(f"plot written to {plot}", file=sys.stderr)
        updates += 1
        if not follow or (max_updates is not None and updates >= max_updates):
            return results
        print(f"following {csv}: re-forecasting when rows are appended (Ctrl-C stops)", file=sys.stderr)
        _wait_for_change(csv, signature, poll)


def _wait_for_change(path, signature, poll: float) -> None:
    while _file_signature(path) == signature:
        time.sleep(poll)


def _file_signature(path) -> tuple:
    stat = Path(path).stat()
    return (stat.st_size, stat.st_mtime_ns)


def _print_forecasts(results: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results if len(results) > 1 else results[0]), flush=True)
        return
    for result in results:
        level = result["level"]
        print(
            f"{result['unique_id']}: {len(result['forecast'])}-step forecast, {level:g}% interval, "
            f"model {result['model']}"
        )
        print(f"  {'ds':<20} {'forecast':>12} {'lo':>12} {'hi':>12} {'seasonal_naive':>15} {'ets':>12}")
        keys = ("ds", "forecast", "lo", "hi", "seasonal_naive", "ets")
        rows = list(zip(*(result[key] for key in keys), strict=False))
        shown = rows if len(rows) <= 14 else rows[:12]
        for ds, point, lo, hi, naive, smoothed in shown:
            print(f"  {ds:<20} {point:>12.6g} {lo:>12.6g} {hi:>12.6g} {naive:>15.6g} {smoothed:>12.6g}")
        if len(rows) > len(shown):
            print(f"  ... {len(rows) - len(shown)} more steps (--json prints all)")
    sys.stdout.flush()
