"""Validation of the zero-shot timeseries settings, never on the reserved suite (docs/timeseries.md).

    python benchmarks/timeseries_validate.py LONG_RUN_DIR [SHORTER_RUN_DIR ...]   # e.g. default medium short
    (shorter runs of one prediction length forecast as their mean: the default's three short seeds)

Windows: 300 generated series of another seed than training (seed 777; last window at the frequency's
competition horizon) and the shipped six's last 3 windows at their frequency's horizon (inside the part
their training cut left out); apart from those ("all"), the last 2 windows of 85 real yearly and quarterly
series that are neither reserved nor trained on (``real_series``: trending, as the reserved suite's are).
Prints the geometric mean of MASE relative to ETS and the seasonal naive per frequency (and per group of
real or shipped windows) for the network (each window forecast by the model the default's router picks
for its horizon) and two test-time ensembles (``half_context``: with the forecast from the later half of
the history, which the short model's own forecast already averages in since the fifth default;
``both_models``: with the long model, or the shortest one where the long model was picked), and the 80%
coverage for a few interval scales. ETS forecasts are cached on disk (as the reserved suite's, under the
name ``validate``), so a rerun fits only the network.
"""

from __future__ import annotations

import sys

import numpy as np

from plugins.timeseries.backtest import mae, naive_scale, seasonal_naive
from plugins.timeseries.data import COMPETITION, DATASETS, frequency_class, load_dataset, series_arrays
from plugins.timeseries.model import Forecaster, horizon_router, recent_half
from plugins.timeseries.reserved import BaselineCache
from plugins.timeseries.synthetic import labelled_series


def real_series() -> list[tuple[str, np.ndarray, str]]:
    """``(frequency, values, group)``: real yearly and quarterly series outside the reserved suite and
    outside training, most of them trending (what the generated windows have few of). 'fertility':
    statsmodels' World Bank fertility rates (yearly 1960-2011, the first 40 countries with every year),
    smooth official statistics; 'firms': Grunfeld's investment, value and capital of 11 US firms (yearly
    1935-1954) and the world copper market (yearly, 25 years), short economic series; 'quarterly': Danish
    money demand (Johansen and Juselius, 1974-1987) and German interest and inflation rates (1972-1998)."""
    import statsmodels.api as sm

    fertility = sm.datasets.fertility.load_pandas().data
    years = fertility[[c for c in fertility.columns if c.isdigit() and c <= "2011"]].dropna()
    out = [("yearly", row.to_numpy(float), "fertility") for _, row in years.head(40).iterrows()]
    firms = sm.datasets.grunfeld.load_pandas().data
    for _, rows in firms.groupby("firm"):  # sorted by firm
        out += [("yearly", rows[c].to_numpy(float), "firms") for c in ("invest", "value", "capital")]
    copper = sm.datasets.copper.load_pandas().data
    out += [("yearly", copper[c].to_numpy(float), "firms") for c in copper.columns if c != "TIME"]
    for frame in (
        sm.datasets.danish_data.load_pandas().data,
        sm.datasets.interest_inflation.load_pandas().data,
    ):
        out += [
            ("quarterly", frame[c].to_numpy(float), "quarterly")
            for c in frame.columns
            if c not in ("year", "quarter")
        ]
    return out


def windows() -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """``(frequency, history, actual, source)``: ``source`` is 'generated', 'real' (``real_series``) or
    the shipped dataset's name."""
    jobs = []
    for freq, values, group in real_series():
        h = COMPETITION[freq][0]
        for k in range(2):
            origin = len(values) - h - k * h
            if origin >= 12:  # ETS needs a dozen points
                jobs.append((freq, values[:origin], values[origin : origin + h], f"real {group}"))
    for freq, values in labelled_series(300, seed=777):
        h, m = COMPETITION[freq]
        if len(values) >= h + max(2 * m, 2 * h, 12):
            jobs.append((freq, values[:-h], values[-h:], "generated"))
    for name in DATASETS:
        values = next(iter(series_arrays(load_dataset(name)).values()))[-720:]
        freq = frequency_class(DATASETS[name].freq)
        h = COMPETITION[freq][0]
        for k in range(3):
            origin = len(values) - h - k * h
            jobs.append((freq, values[:origin], values[origin : origin + h], name))
    return jobs


def gmean_ratio(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    ok = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)
    return float(np.exp(np.mean(np.log(a[ok] / b[ok]))))


def main(long_dir: str, *shorter_dirs: str) -> None:
    router = horizon_router(Forecaster.from_run(long_dir), [Forecaster.from_run(d) for d in shorter_dirs])
    jobs = windows()
    scores = {key: [] for key in ("net", "half_context", "both_models", "ets", "naive", "freq", "source")}
    cache = BaselineCache("ets")
    coverage = {k: [] for k in (1.0, 1.15, 1.3)}
    for freq, (h, m) in COMPETITION.items():
        part = [job for job in jobs if job[0] == freq]
        if not part:
            continue
        forecaster = router.pick(h)
        other = router.long if forecaster is not router.long else router.models[0]
        histories = [job[1] for job in part]
        out = forecaster.predict(histories, h)
        half = forecaster.predict([recent_half(x, h) for x in histories], h, quantiles=())
        alt = other.predict(histories, h, quantiles=())
        for i, (_, history, actual, source) in enumerate(part):
            scale, point = naive_scale(history, m), out["point"][i]
            scores["net"].append(mae(actual, point) / scale)
            scores["half_context"].append(mae(actual, (point + half["point"][i]) / 2) / scale)
            scores["both_models"].append(mae(actual, (point + alt["point"][i]) / 2) / scale)
            scores["ets"].append(mae(actual, cache.forecast("validate", history, h, m)) / scale)
            scores["naive"].append(mae(actual, seasonal_naive(history, h, m)) / scale)
            scores["freq"].append(freq)
            scores["source"].append(source)
            for k in coverage:
                lo, hi = point + k * (out["q0.1"][i] - point), point + k * (out["q0.9"][i] - point)
                coverage[k].append(np.mean((actual >= lo) & (actual <= hi)))
    cache.save()
    freqs, sources = np.array(scores.pop("freq")), np.array(scores.pop("source"))
    print(f"{len(jobs)} windows (CPU: see the report)")
    real = np.char.startswith(sources.astype(str), "real")
    for group in [
        "all",
        *COMPETITION,
        "real",
        "real fertility",
        "real firms",
        "real quarterly",
        "shipped",
        *DATASETS,
    ]:
        if group == "all":
            chosen = ~real  # as before the real group came
        elif group.startswith("real"):
            chosen = real if group == "real" else sources == group
        elif group == "shipped":
            chosen = ~real & (sources != "generated")
        else:
            chosen = (freqs == group) & (sources == "generated") if group in COMPETITION else sources == group
        if not chosen.any():
            continue
        pick = {key: np.asarray(value)[chosen] for key, value in scores.items()}
        print(
            f"{group:<10} n={chosen.sum():>4} net/ets={gmean_ratio(pick['net'], pick['ets']):.3f} "
            f"net/naive={gmean_ratio(pick['net'], pick['naive']):.3f} "
            f"half_context/ets={gmean_ratio(pick['half_context'], pick['ets']):.3f} "
            f"both_models/ets={gmean_ratio(pick['both_models'], pick['ets']):.3f}"
        )
    print("80% coverage by interval scale:", {k: round(float(np.mean(v)), 3) for k, v in coverage.items()})


if __name__ == "__main__":
    main(*sys.argv[1:])
