"""``apps run / eval / prepare timeseries``: forecasts, backtest tables and the offline default model."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from core.errors import AppsError
from plugins.timeseries import data as tsdata
from plugins.timeseries.backtest import (
    BASELINES,
    METRICS,
    backtest,
    baseline_methods,
    ets,
    seasonal_naive,
    window_origins,
)

DEFAULT_HORIZON = 24
PRETRAIN_RECIPE = "patchtst-pretrain"
SERIES_RECIPE = "patchtst-series"


# ---- model ------------------------------------------------------------------------------------------
def own_model_dir(dataset: str) -> Path:
    """Where 'apps prepare' puts the model of a shipped dataset that has one of its own (``own_model``)."""
    from core.paths import default_model_dir

    return default_model_dir("timeseries").with_name(f"series-{dataset}")


def resolve_model_dir(model: str | None, dataset: str | None = None) -> Path:
    """A run directory. The default is the shipped ``dataset``'s own model when it has one, else the pooled
    model; ``pooled`` is always the pooled model."""
    from core.paths import default_model_dir

    if model in (None, "", "default", "pooled"):
        spec = tsdata.DATASETS.get(dataset or "")
        if spec and spec.own_model and model != "pooled":
            own = own_model_dir(spec.name)
            if (own / "config.json").is_file():
                return own
            tsdata.warn(
                f"'{spec.name}' has no model of its own yet ({own}); forecasting with the pooled model "
                "('apps prepare timeseries' builds it in about a minute)"
            )
        path = default_model_dir("timeseries")
        if not (path / "config.json").is_file():
            raise AppsError(
                f"the pooled default model is not built yet ({path})",
                hint="run 'apps prepare timeseries' (a few minutes on a CPU), or pass --model RUN_DIR",
            )
        return path
    path = Path(model)
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise AppsError(
            f"{path} holds no PatchTST model (config.json)",
            hint="pass a run directory from 'apps train timeseries'",
        )
    return path


def load_forecaster(model: str | None, device: str = "auto", dataset: str | None = None):
    from core.device import resolve_device
    from plugins.timeseries.model import Forecaster

    return Forecaster.from_run(resolve_model_dir(model, dataset), device=str(resolve_device(device)))


# ---- input ------------------------------------------------------------------------------------------
def load_input(csv=None, dataset=None, freq=None, ds_col="ds", y_col="y", id_col="unique_id", quiet=False):
    """(table, spec or None) from ``--csv`` or ``--dataset``."""
    if bool(csv) == bool(dataset):
        raise AppsError(
            "give exactly one of --csv FILE or --dataset NAME",
            hint=f"shipped datasets: {', '.join(tsdata.DATASETS)}",
        )
    if dataset:
        spec = tsdata.dataset_spec(dataset)
        return tsdata.load_dataset(dataset), spec
    table = tsdata.read_table(csv, freq=freq, id_col=id_col, ds_col=ds_col, y_col=y_col, quiet=quiet)
    return table, None


def default_season(freq: str) -> int:
    """A seasonal period for user data, from its frequency (1: no season, naive baseline)."""
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.rule_code.split("-")[0].upper()
    if name in ("MS", "ME", "M"):
        return 12
    if name in ("QS", "QE", "Q"):
        return 4
    if name in ("W",):
        return 52
    if name in ("D",):
        return 7
    if name in ("B",):
        return 5
    try:
        per_day = pd.Timedelta(days=1) / pd.Timedelta(offset)
    except (ValueError, TypeError):
        return 1
    return int(round(per_day)) if per_day >= 2 and float(per_day).is_integer() else 1


def _rounded(values) -> list[float]:
    import numpy as np

    return np.asarray(values, dtype=np.float64).round(6).tolist()


# ---- run --------------------------------------------------------------------------------------------
def forecast_table(forecaster, table, horizon: int, level: float, season: int) -> list[dict]:
    """One result dict per series: future timestamps, point forecast, interval and the baselines."""
    import pandas as pd

    lo_q, hi_q = (100 - level) / 200, 1 - (100 - level) / 200
    series = tsdata.series_arrays(table)
    histories = list(series.values())
    for uid, values in series.items():
        if len(values) < 2 * forecaster.model.config.patch_length:
            tsdata.check_length(uid, len(values), 2 * forecaster.model.config.patch_length, "forecasting")
    predicted = forecaster.predict(histories, horizon, quantiles=(lo_q, hi_q))
    freq = table.attrs["freq"]
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
            }
        )
    return results


def run(
    app,
    csv=None,
    dataset=None,
    freq=None,
    ds_col="ds",
    y_col="y",
    id_col="unique_id",
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
            table, spec = load_input(csv, dataset, freq, ds_col, y_col, id_col)
        except AppsError as exc:
            if not follow or updates == 0:
                raise
            tsdata.warn(f"{exc} (waiting for the next change)")  # e.g. a row caught half-written
            _wait_for_change(csv, signature, poll)
            continue
        h = horizon or (spec.horizon if spec else DEFAULT_HORIZON)
        season = spec.season if spec else default_season(table.attrs["freq"])
        results = forecast_table(forecaster, table, h, level, season)
        source = csv or f"dataset:{dataset}"
        for result in results:
            app.emit(result, source=source)
        _print_forecasts(results, as_json)
        if plot:
            plot_forecast(table, results, plot, title=source, season=season)
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
        print(f"{result['unique_id']}: {len(result['forecast'])}-step forecast, {level:g}% interval")
        print(f"  {'ds':<20} {'forecast':>12} {'lo':>12} {'hi':>12} {'seasonal_naive':>15} {'ets':>12}")
        keys = ("ds", "forecast", "lo", "hi", "seasonal_naive", "ets")
        rows = list(zip(*(result[key] for key in keys), strict=False))
        shown = rows if len(rows) <= 14 else rows[:12]
        for ds, point, lo, hi, naive, smoothed in shown:
            print(f"  {ds:<20} {point:>12.6g} {lo:>12.6g} {hi:>12.6g} {naive:>15.6g} {smoothed:>12.6g}")
        if len(rows) > len(shown):
            print(f"  ... {len(rows) - len(shown)} more steps (--json prints all)")
    sys.stdout.flush()


def plot_forecast(table, results: list[dict], path, title: str = "", season: int = 1) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from core.rundir import atomic_save

    figure, axes = plt.subplots(len(results), 1, figsize=(10, 3.6 * len(results)), dpi=100, squeeze=False)
    for axis, result in zip(axes[:, 0], results, strict=False):
        history = table[table[tsdata.ID] == result["unique_id"]]
        shown = history.tail(max(4 * len(result["forecast"]), 3 * season + 1, 100))
        future = pd.to_datetime(result["ds"])
        values = shown[tsdata.Y].to_numpy()
        axis.plot(shown[tsdata.DS], values, color="black", linewidth=1, label="history")
        axis.fill_between(
            future,
            result["lo"],
            result["hi"],
            color="tab:blue",
            alpha=0.25,
            label=f"{result['level']:g}% interval",
        )
        axis.plot(future, result["forecast"], color="tab:blue", linewidth=1.8, label="PatchTST")
        axis.plot(
            future, result["seasonal_naive"], "--", color="tab:orange", linewidth=1, label="seasonal naive"
        )
        if "ets" in result:
            axis.plot(future, result["ets"], ":", color="tab:green", linewidth=1.2, label="ETS")
        name = result["unique_id"]
        axis.set_title(title if title.endswith(name) else f"{title} {name}".strip())
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    path = Path(path)
    atomic_save(path, lambda tmp: figure.savefig(tmp, format="png"))
    plt.close(figure)
    return path


# ---- eval -------------------------------------------------------------------------------------------
def evaluate(
    app,
    csv=None,
    dataset=None,
    freq=None,
    ds_col="ds",
    y_col="y",
    id_col="unique_id",
    horizon=None,
    model=(),
    device="auto",
    season=None,
    n_windows=5,
    step=None,
    no_ets=False,
    as_json=False,
    **_,
):
    if not csv and not dataset:
        dataset = "all"
    names = list(tsdata.DATASETS) if dataset == "all" else [dataset] if dataset else [None]
    models = list(model) or [None]
    labels = [_model_label(m) for m in models]
    loaded = {}  # run directory -> Forecaster: the pooled default serves many datasets

    def forecaster_for(ref, name):
        path = resolve_model_dir(ref, name)
        if path not in loaded:
            loaded[path] = load_forecaster(str(path), device)
        return path, loaded[path]

    results = []
    for name in names:
        table, spec = load_input(csv if name is None else None, name, freq, ds_col, y_col, id_col)
        h = horizon or (spec.horizon if spec else DEFAULT_HORIZON)
        m = season or (spec.season if spec else default_season(table.attrs["freq"]))
        s = step or h
        series = tsdata.series_arrays(table)
        for uid, values in series.items():
            needed = (n_windows - 1) * s + h + max(m + 1, 2 * 16)
            tsdata.check_length(uid, len(values), needed, f"a backtest of {n_windows} windows x {h} steps")
        methods, model_dirs = {}, {}
        for label, ref in zip(labels, models, strict=True):
            model_dirs[label], forecaster = forecaster_for(ref, name)
            _warn_leakage(label, forecaster, series, h, n_windows, s)
            methods[label] = lambda hs, hh, f=forecaster: f.predict(hs, hh)["point"]
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
            if Path(path).name.startswith("series-"):
                print(f"  ({label}: the dataset's own model, {path})")
    for method, row in report["summary"].items():
        if row["datasets"] > 1:
            print(
                f"{method}: MASE < 1 on {row['mase_below_1']}/{row['datasets']}, beats seasonal naive on "
                f"{row['beats_seasonal_naive']}/{row['datasets']}, MASE <= ETS on "
                f"{row['at_least_ets']}/{row['datasets']}"
            )


# ---- prepare ----------------------------------------------------------------------------------------
def prepare(app, force: bool = False, overrides: list[str] | None = None) -> Path:
    """Build the offline defaults with the app's own recipes: the pooled model (``patchtst-pretrain``, the
    ``overrides`` apply to it), then the own model of each shipped dataset marked ``own_model``
    (``patchtst-series``, about 30 s each)."""
    from core.paths import default_model_dir

    target = default_model_dir("timeseries")
    builds = [(target, PRETRAIN_RECIPE, overrides or [])]
    builds += [
        (own_model_dir(n), SERIES_RECIPE, [f"dataset={n}"]) for n, s in tsdata.DATASETS.items() if s.own_model
    ]
    for path, recipe_name, recipe_overrides in builds:
        if (path / "config.json").is_file() and not force:
            print(f"ready: {path} (--force rebuilds it)")
        else:
            _build(app, recipe_name, recipe_overrides, path)
    return target


def _build(app, recipe_name: str, overrides: list[str], target: Path) -> None:
    from core.plugins import get_manager
    from core.recipes import load_recipe

    try:
        from core.training import run_training
    except ImportError:
        raise AppsError(
            "the training engine (core.training.run_training) is not available",
            hint="update transformer-apps",
        ) from None
    recipe = load_recipe(app.recipe_class, get_manager().recipe_path("timeseries", recipe_name), overrides)
    series = ", ".join(recipe.pool) if recipe.pool else recipe.dataset
    print(f"building {target.name} ({recipe_name}) from {series} into {target}", file=sys.stderr)
    # Train beside the target and swap at the end: a failed or interrupted build keeps the old model.
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    run_dir = Path(run_training(app, recipe, run_dir=building, recipe_name=recipe_name))
    for checkpoint in run_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)  # optimizer state is not needed to forecast
    if target.exists():
        shutil.rmtree(target)
    os.replace(run_dir, target)
    print(f"ready: {target}")
