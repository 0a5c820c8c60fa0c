"""``apps eval timeseries``: rolling-origin backtests of one or more PatchTST models beside the baselines,
per dataset, with a summary of how often each model beats them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from plugins.timeseries import data as tsdata
from plugins.timeseries.backtest import BASELINES, METRICS, backtest, baseline_methods, window_origins
from plugins.timeseries.model import forecaster_for, model_ref


def evaluate(
    app,
    source: tsdata.InputSource = tsdata.InputSource(),
    horizon=None,
    model=(),
    device="auto",
    season=None,
    n_windows=5,
    step=None,
    no_ets=False,
    suite=None,
    origins=3,
    as_json=False,
    **_,
):
    """Score each ``model`` (default: the prepared one per dataset) on the ``source`` CSV or dataset or,
    with neither, every shipped dataset; with ``suite='reserved'`` the zero-shot suite (reserved.py). Prints
    the tables (or JSON) and returns the report."""
    if suite:
        from plugins.timeseries.reserved import evaluate_suite

        choice = model[0] if model else None
        label = _model_label(choice)
        return evaluate_suite(forecaster_for(model_ref(choice), device), origins, as_json, label)
    csv, dataset = source.csv, source.dataset
    if not csv and not dataset:
        dataset = "all"
    names = list(tsdata.DATASETS) if dataset == "all" else [dataset] if dataset else [None]
    models = list(model) or [None]
    labels = [_model_label(m) for m in models]
    loaded = {}  # model folder -> Forecaster: the pooled default serves many datasets

    def forecaster(choice, name):
        ref = model_ref(choice, name)
        if ref.path not in loaded:
            loaded[ref.path] = forecaster_for(ref, device)
        return ref.path, loaded[ref.path]

    results = []
    for name in names:
        table, spec = replace(source, csv=csv if name is None else None, dataset=name).load()
        freq = table.attrs["freq"]
        h = horizon or (spec.horizon if spec else tsdata.default_horizon(freq))
        m = season or (spec.season if spec else tsdata.default_season(freq))
        s = step or h
        series = tsdata.series_arrays(table)
        for uid, values in series.items():
            needed = (n_windows - 1) * s + h + max(tsdata.min_length(freq), m + 1)
            what = f"a backtest of {n_windows} windows x {h} steps"
            tsdata.check_length(uid, len(values), needed, what, freq)
        methods, model_dirs = {}, {}
        for label, choice in zip(labels, models, strict=True):
            _, scored = forecaster(choice, name)
            model_dirs[label] = scored.source(h)
            _warn_leakage(label, scored, series, h, n_windows, s)
            methods[label] = lambda hs, hh, f=scored: f.predict(hs, hh)["point"]
        baselines = baseline_methods(m)
        if no_ets:
            baselines.pop("ets")
        methods.update(baselines)
        scores = backtest(series, h, m, n_windows, s, methods)
        results.append(
            {
                "dataset": name or str(csv),
                "series": len(series),
                "horizon": h,
                "season": m,
                "n_windows": n_windows,
                "step": s,
                "model_dirs": {label: str(path) for label, path in model_dirs.items()},
                "metrics": {
                    method: {k: round(v, 6) for k, v in row.items()} for method, row in scores.items()
                },
            }
        )
    report = {"models": labels, "results": results, "summary": _summary(results)}
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    return report


def _model_label(model) -> str:
    return "patchtst" if model in (None, "", "default") else f"patchtst[{Path(model).name}]"


def _warn_leakage(label, forecaster, series, horizon, n_windows, step) -> None:
    """Warn when the model was trained on points inside the windows it is scored on (``forecast.json``
    records each series' training cut)."""
    seen = forecaster.info.get("series", {})
    for uid, values in series.items():
        first = window_origins(len(values), horizon, n_windows, step)[0]
        trained = seen.get(uid, {}).get("train_points")
        if trained is not None and trained > first and seen[uid].get("length") == len(values):
            tsdata.warn(
                f"{label} was trained on {trained - first} point(s) of '{uid}' inside the backtest "
                "windows; its scores there are optimistic (use fewer --n-windows)"
            )


def _summary(results: list[dict]) -> dict:
    """Per model: on how many datasets MASE < 1, it beats the seasonal naive, it is at or below ETS."""
    summary = {}
    if not results:
        return summary
    for method in results[0]["metrics"]:
        if method in BASELINES:
            continue
        mase = [r["metrics"][method]["mase"] for r in results]
        summary[method] = {
            "mase_below_1": sum(v < 1 for v in mase),
            "beats_seasonal_naive": sum(
                r["metrics"][method]["mase"] < r["metrics"]["seasonal_naive"]["mase"] for r in results
            ),
            "at_least_ets": sum(
                r["metrics"][method]["mase"] <= r["metrics"]["ets"]["mase"]
                for r in results
                if "ets" in r["metrics"]
            ),
            "datasets": len(results),
        }
    return summary


def _print_report(report: dict) -> None:
    for result in report["results"]:
        print(
            f"{result['dataset']}: {result['series']} series, horizon {result['horizon']}, season "
            f"{result['season']}, {result['n_windows']} windows every {result['step']} steps"
        )
        print(f"  {'method':<28}" + "".join(f"{metric.upper():>12}" for metric in METRICS))
        for method, row in result["metrics"].items():
            print(f"  {method:<28}" + "".join(f"{row[metric]:>12.4g}" for metric in METRICS))
        for label, path in result["model_dirs"].items():
            kind = "the dataset's own model" if Path(path).name.startswith("series-") else "forecast by"
            print(f"  ({label}: {kind} {path})")
    for method, row in report["summary"].items():
        if row["datasets"] > 1:
            print(
                f"{method}: MASE < 1 on {row['mase_below_1']}/{row['datasets']}, beats seasonal naive on "
                f"{row['beats_seasonal_naive']}/{row['datasets']}, MASE <= ETS on "
                f"{row['at_least_ets']}/{row['datasets']}"
            )
