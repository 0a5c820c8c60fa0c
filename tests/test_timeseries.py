"""timeseries: long tables and bad input, metrics on known values, datasets, PatchTST forecasting, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from core.cli import cli
from core.errors import AppsError
from plugins.timeseries import backtest as bt
from plugins.timeseries import data as tsdata


def write_csv(path, rows, header="unique_id,ds,y"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def monthly_rows(n=60, uid="a", start="2020-01-01"):
    index = pd.date_range(start, periods=n, freq="MS")
    return [f"{uid},{ts.date()},{10 + np.sin(i / 2):.4f}" for i, ts in enumerate(index)]


# ---- metrics ------------------------------------------------------------------------------------
def test_mase_of_seasonal_naive_on_perfectly_seasonal_series_is_zero():
    pattern = np.array([1.0, 5.0, 2.0, 8.0])
    series = {"s": np.tile(pattern, 12)}
    scores = bt.backtest(series, horizon=4, season=4, n_windows=3, step=2, methods=bt.baseline_methods(4))
    assert scores["seasonal_naive"]["mase"] == 0.0
    assert scores["seasonal_naive"]["windows"] == 3


def test_metrics_on_hand_computed_values():
    actual, forecast = np.array([100.0, 200.0, 0.0]), np.array([110.0, 180.0, 0.0])
    assert bt.mae(actual, forecast) == pytest.approx(10.0)
    assert bt.rmse(actual, forecast) == pytest.approx(np.sqrt((100 + 400 + 0) / 3))
    # sMAPE: 2*10/210, 2*20/380, 0 (both zero) -> mean * 100
    assert bt.smape(actual, forecast) == pytest.approx(100 * (20 / 210 + 40 / 380) / 3)
    history = np.array([1.0, 3.0, 2.0, 6.0])  # naive(1) in-sample MAE = (2 + 1 + 4) / 3
    assert bt.mase(actual, forecast, history, 1) == pytest.approx(10.0 / (7 / 3))


def test_window_origins_and_baselines():
    assert bt.window_origins(20, horizon=4, n_windows=3, step=2) == [12, 14, 16]
    assert bt.seasonal_naive(np.arange(10.0), 5, 3).tolist() == [7, 8, 9, 7, 8]
    trend = np.arange(40.0) + np.tile([0.0, 2.0, 0.0, -2.0], 10)
    assert np.abs(bt.ets(trend, 4, 4) - (np.arange(40.0, 44.0) + [0, 2, 0, -2])).max() < 0.5


# ---- tables and bad input -----------------------------------------------------------------------
def test_read_table_fills_gaps_and_sorts_with_counted_warning(tmp_path, capsys):
    rows = monthly_rows(24)
    rows[5] = rows[5].rsplit(",", 1)[0] + ","  # an empty value
    del rows[9]  # a missing month
    rows[1], rows[2] = rows[2], rows[1]  # out of order
    table = tsdata.read_table(write_csv(tmp_path / "m.csv", rows))
    assert table.attrs["freq"] == "MS"
    assert len(table) == 24 and not table["y"].isna().any()
    assert table["ds"].is_monotonic_increasing
    err = capsys.readouterr().err
    assert "1 missing timestamps (filled)" in err and "1 missing values (filled)" in err
    assert "rows out of order (sorted)" in err


def test_read_table_without_id_uses_file_name_and_custom_columns(tmp_path):
    path = write_csv(
        tmp_path / "meter.csv",
        ["2024-01-01 00:00,1", "2024-01-01 01:00,2", "2024-01-01 02:00,3"],
        header="time,kwh",
    )
    table = tsdata.read_table(path, ds_col="time", y_col="kwh")
    assert set(table["unique_id"]) == {"meter"} and table.attrs["freq"] == "h"
    # a column of plain years is yearly, not nanoseconds since 1970
    years = write_csv(tmp_path / "sales.csv", ["1990,5", "1991,7", "1992,6", "1993,9"], header="year,units")
    table = tsdata.read_table(years, ds_col="year", y_col="units")
    assert table.attrs["freq"] == "YS-JAN" and table["ds"].iloc[0].year == 1990


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["a,2020-01-01,1", "a,2020-02-01,2", "a,2020-02-01,3"], "duplicated timestamp"),
        (["a,2020-01-01,1", "a,2020-02-01,12 kW", "a,2020-03-01,3"], "non-numeric value"),
        (
            ["a,2020-01-01,1", "a,2020-01-02,2", "a,2020-01-03,3", "a,2020-01-04 07:13,4", "a,2020-01-05,5"],
            "irregular frequency",
        ),
        (["a,2020-01-01,1", "a,not a date,2"], "cannot be read"),
    ],
)
def test_bad_tables_give_clear_errors_with_lines(tmp_path, rows, message):
    with pytest.raises(AppsError) as info:
        tsdata.read_table(write_csv(tmp_path / "bad.csv", rows))
    text = str(info.value)
    assert message in text and "bad.csv:line" in text


def test_missing_columns_and_unknown_dataset():
    with pytest.raises(AppsError, match="column.*ds.*not found"):
        tsdata.read_table(pd.DataFrame({"time": ["2020-01-01"], "y": [1.0]}))
    with pytest.raises(AppsError) as info:
        tsdata.dataset_spec("co3")
    assert "did you mean 'co2'" in str(info.value) and "taylor" in str(info.value)


def test_shipped_datasets_load_offline():
    lengths = {"co2": 2284, "sunspots": 309, "elnino": 732, "elec_equip": 257, "taylor": 4032}
    for name, length in lengths.items():
        table = tsdata.load_dataset(name)
        assert len(table) == length and not table["y"].isna().any(), name
    msft = tsdata.load_dataset("msft")
    assert msft.attrs["freq"] == "B" and msft.attrs["fixes"]["missing timestamps (filled)"] > 0


# ---- model --------------------------------------------------------------------------------------
TINY = [
    "context_length=64",
    "prediction_length=12",
    "patch_length=8",
    "patch_stride=8",
    "d_model=16",
    "num_layers=1",
    "num_heads=2",
    "ffn_dim=32",
    "max_steps=6",
    "batch_size=16",
    "logging_steps=2",
    "eval_steps=3",
    "save_steps=1000",
    "precision=fp32",
    "min_windows=0",
    "train_stride=4",
    "synthetic=40",
    "mixup=10",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny PatchTST trained for a few steps by the core engine on two shipped series."""
    from core import run_training
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from plugins.timeseries.app import TimeseriesApp

    run_dir = tmp_path_factory.mktemp("ts") / "tiny"
    path = get_manager().recipe_path("timeseries", "patchtst-pretrain")
    recipe = load_recipe(TimeseriesApp.recipe_class, path, [*TINY, "pool=[elec_equip, elnino]"])
    return run_training(TimeseriesApp(), recipe, run_dir=run_dir)


def test_training_writes_run_with_leakage_guard(tiny_run):
    info = json.loads((tiny_run / "forecast.json").read_text())
    assert set(info["series"]) == {"elec_equip", "elnino"}
    # the last 5 windows of 12 months are held out of training
    assert info["series"]["elec_equip"]["train_points"] == 257 - 5 * 12
    assert (tiny_run / "config.json").is_file() and (tiny_run / "run.json").is_file()


def test_forecaster_shapes_intervals_and_recursion(tiny_run):
    from plugins.timeseries.model import Forecaster

    forecaster = Forecaster.from_run(tiny_run)
    histories = [np.sin(np.arange(100) / 3) * 5 + 20, np.arange(30.0)]  # the second is shorter than context
    out = forecaster.predict(histories, horizon=30, quantiles=(0.1, 0.9))
    assert out["point"].shape == (2, 30) and np.isfinite(out["point"]).all()
    assert (out["q0.1"] <= out["point"] + 1e-6).all() and (out["point"] <= out["q0.9"] + 1e-6).all()


def test_bench_compares_with_ets_and_falls_back_to_random_weights(tiny_run, tmp_path, monkeypatch):
    from plugins.timeseries.bench import benchmark_rows

    rows = benchmark_rows(str(tiny_run), "cpu", batch=4)
    assert [r["metric"] for r in rows] == ["latency", "throughput"]
    assert all(r["value"] > 0 and r["peer_value"] > 0 for r in rows) and "ETS" in rows[0]["peer"]
    monkeypatch.setenv(
        "APPS_HOME", str(tmp_path)
    )  # nothing prepared: the default architecture, random weights
    assert "random weights" in benchmark_rows(None, "cpu", batch=2)[0]["name"]


def test_synthetic_corpus_is_deterministic_and_covers_kinds_and_frequencies():
    from plugins.timeseries.synthetic import FREQUENCIES, GENERATORS, synthetic_series, tsmixup

    first, again = synthetic_series(60, seed=3), synthetic_series(60, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], synthetic_series(1, seed=4)[0])
    shortest = min(low for _, low, _, _ in FREQUENCIES.values())
    longest = max(high for _, _, high, _ in FREQUENCIES.values())
    assert all(
        shortest <= len(s) <= longest and s.dtype == np.float32 and np.isfinite(s).all() for s in first
    )
    assert min(map(len, first)) < 100 < 500 < max(map(len, first))  # short yearly and long hourly series
    assert len({round(float(np.std(np.diff(s)) / (np.std(s) + 1e-9)), 1) for s in first}) > 3  # not one shape
    rng = np.random.default_rng(0)
    intermittent = GENERATORS["intermittent"](rng, 200, [])
    assert (intermittent == 0).mean() > 0.3 and (intermittent >= 0).all()
    seasonal = GENERATORS["arima"](np.random.default_rng(5), 240, [12])
    assert np.isfinite(seasonal).all() and len(seasonal) == 240
    mixed = tsmixup(first, 10, seed=1)
    assert len(mixed) == 10 and all(len(m) >= 16 and np.isfinite(m).all() for m in mixed)
    assert all(np.array_equal(a, b) for a, b in zip(mixed, tsmixup(first, 10, seed=1), strict=True))


def test_finetune_selects_best_step_on_holdout(tiny_run, tmp_path):
    from core import run_training
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from plugins.timeseries.app import TimeseriesApp

    path = get_manager().recipe_path("timeseries", "patchtst-finetune")
    overrides = [f"model={tiny_run}", "dataset=elec_equip", "holdout=2", "select_steps=2", "max_steps=5"]
    recipe = load_recipe(TimeseriesApp.recipe_class, path, [*overrides, "batch_size=8"])
    run = run_training(TimeseriesApp(), recipe, run_dir=tmp_path / "ft")
    selection = json.loads((run / "forecast.json").read_text())["selection"]
    assert [step for step, _ in selection["checks"]] == [0, 2, 4, 5]  # before training, every 2, the end
    assert selection["best_error"] == min(error for _, error in selection["checks"])


def test_series_recipe_forecasts_the_targets_own_horizon(tmp_path):
    from core import run_training
    from core.errors import AppsError
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from plugins.timeseries.app import TimeseriesApp
    from plugins.timeseries.model import Forecaster

    path = get_manager().recipe_path("timeseries", "patchtst-series")
    tiny = ["d_model=16", "num_layers=1", "ffn_dim=32", "max_steps=3", "select_steps=2", "batch_size=8"]
    recipe = load_recipe(TimeseriesApp.recipe_class, path, [*tiny, "dataset=sunspots"])
    run = run_training(TimeseriesApp(), recipe, run_dir=tmp_path / "sun")
    assert Forecaster.from_run(run).prediction_length == 11  # prediction_length 0: sunspots' horizon
    csv = tmp_path / "meter.csv"
    csv.write_text("ds,y\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 29)))
    recipe = load_recipe(TimeseriesApp.recipe_class, path, [*tiny, f"dataset={csv}"])
    with pytest.raises(AppsError, match="needs one shipped dataset"):
        run_training(TimeseriesApp(), recipe, run_dir=tmp_path / "csv")


def test_default_is_a_datasets_own_model_when_built(tiny_run, tmp_path, monkeypatch, capsys):
    import shutil

    from core.paths import default_model_dir
    from plugins.timeseries.model import model_ref, own_model_dir

    def resolve_model_dir(model, dataset):
        return model_ref(model, dataset).path

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    pooled, own = default_model_dir("timeseries"), own_model_dir("sunspots")
    shutil.copytree(tiny_run, pooled)
    shutil.copytree(tiny_run, own)
    assert resolve_model_dir(None, "sunspots") == own and resolve_model_dir("pooled", "sunspots") == pooled
    assert resolve_model_dir("default", "co2") == pooled  # co2 is long: the pooled model's
    assert resolve_model_dir(None, "elnino") == pooled and "no model of its own" in capsys.readouterr().err
    report = invoke("eval", "timeseries", "--dataset", "sunspots", "--no-ets", "--n-windows", "1", "--json")
    assert json.loads(report.output)["results"][0]["model_dirs"] == {"patchtst": str(own)}


def test_prepare_builds_pooled_and_own_models_through_the_core_lifecycle(tmp_path, monkeypatch):
    """'apps prepare timeseries' builds the pooled default and one model per short series in the same
    folders as before, drops checkpoints, and skips what is built unless --force."""
    import core.training.engine as engine
    from core.paths import default_model_dir
    from plugins.timeseries.model import horizon_models, own_model_dir

    trained = []

    def fake_train(app, recipe_name, run_dir, overrides=(), **_):
        trained.append((recipe_name, list(overrides)))
        (run_dir / "checkpoint-1").mkdir(parents=True)
        (run_dir / "run.json").write_text(json.dumps({"status": "complete"}))
        return run_dir

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    monkeypatch.setattr(engine, "train_recipe", fake_train)
    invoke("prepare", "timeseries", "--set", "max_steps=2")
    own = [name for name, spec in tsdata.DATASETS.items() if spec.own_model]
    assert trained == [
        ("patchtst-pretrain", ["max_steps=2"]),
        ("patchtst-pretrain-medium", ["max_steps=2"]),
        ("patchtst-pretrain-short", ["max_steps=2"]),
        ("patchtst-pretrain-short", ["seed=43", "max_steps=2"]),
        ("patchtst-pretrain-short", ["seed=44", "max_steps=2"]),
        *[(tsdata.DATASETS[n].own_model, [f"dataset={n}", *tsdata.DATASETS[n].own_settings]) for n in own],
    ]
    for folder in (default_model_dir("timeseries"), *horizon_models(), *map(own_model_dir, own)):
        assert (folder / "run.json").is_file() and not (folder / "checkpoint-1").exists(), folder
        assert not folder.with_name(folder.name + ".building").exists()
    invoke("prepare", "timeseries")
    assert len(trained) == 5 + len(own)  # all built: nothing to do
    invoke("prepare", "timeseries", "--force")
    assert len(trained) == 2 * (5 + len(own))


def invoke(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def test_info_lists_datasets_with_horizon_and_season():
    result = invoke("info", "timeseries", "--json")
    datasets = json.loads(result.output)["datasets"]
    assert set(datasets) == {"co2", "sunspots", "elnino", "elec_equip", "taylor", "msft"}
    assert "horizon 26, season 52" in datasets["co2"]
    assert {"patchtst-pretrain", "patchtst-finetune", "patchtst-series"} <= set(
        json.loads(result.output)["recipes"]
    )


def test_cli_run_dataset_writes_plot(tiny_run, tmp_path):
    plot = tmp_path / "out.png"
    result = invoke(
        "run",
        "timeseries",
        "--dataset",
        "elnino",
        "--model",
        tiny_run,
        "--horizon",
        6,
        "--plot",
        plot,
        "--json",
    )
    assert result.exit_code == 0, result.output
    forecast, _ = json.JSONDecoder().raw_decode(result.output[result.output.index("{") :])
    assert len(forecast["forecast"]) == 6 and forecast["ds"][0].startswith("2011-01-01")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_eval_json_table_shape(tiny_run):
    result = invoke(
        "eval", "timeseries", "--dataset", "elec_equip", "--model", tiny_run, "--n-windows", 2, "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    (row,) = report["results"]
    assert row["dataset"] == "elec_equip" and row["horizon"] == 12 and row["season"] == 12
    assert set(row["metrics"]) == {"patchtst[tiny]", "seasonal_naive", "ets"}
    for metrics in row["metrics"].values():
        assert set(metrics) == {"mae", "rmse", "smape", "mase", "windows"} and metrics["windows"] == 2


def test_cli_errors_short_series_and_unknown_dataset(tiny_run, tmp_path):
    short = write_csv(tmp_path / "short.csv", monthly_rows(20))
    result = CliRunner().invoke(
        cli, ["eval", "timeseries", "--csv", str(short), "--model", str(tiny_run), "--horizon", "6"]
    )
    assert isinstance(result.exception, AppsError) and "has 20 points" in str(result.exception)
    assert "a monthly series needs at least 24" in str(result.exception)
    yearly = write_csv(tmp_path / "yearly.csv", [f"a,{2000 + i}-01-01,{i}" for i in range(5)])
    result = CliRunner().invoke(cli, ["run", "timeseries", "--csv", str(yearly), "--model", str(tiny_run)])
    assert "has 5 points" in str(result.exception) and "a yearly series needs at least 8" in str(
        result.exception
    )
    result = CliRunner().invoke(cli, ["run", "timeseries", "--dataset", "nope", "--model", str(tiny_run)])
    assert "unknown dataset 'nope'" in str(result.exception) and "co2" in str(result.exception)


@pytest.mark.timeout(120)  # a follow loop that misses the append would wait forever
def test_cli_follow_reforecasts_when_rows_are_appended(tiny_run, tmp_path):
    import threading
    import time

    path = write_csv(tmp_path / "live.csv", monthly_rows(48, uid="meter"))

    def append():
        time.sleep(1.0)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("meter,2024-01-01,11.5\n")

    thread = threading.Thread(target=append)
    thread.start()
    result = invoke(
        "run",
        "timeseries",
        "--csv",
        path,
        "--model",
        tiny_run,
        "--horizon",
        3,
        "--follow",
        "--poll",
        0.2,
        "--max-updates",
        2,
        "--json",
    )
    thread.join()
    lines = [json.loads(line[line.index("{") :]) for line in result.output.splitlines() if "{" in line]
    assert [line["ds"][0][:10] for line in lines] == ["2024-01-01", "2024-02-01"]


def test_cli_eval_csv_takes_horizon_and_season_from_the_frequency(tiny_run, tmp_path):
    monthly = write_csv(tmp_path / "sales.csv", monthly_rows(144))
    result = invoke("eval", "timeseries", "--csv", monthly, "--model", tiny_run, "--no-ets", "--json")
    (row,) = json.loads(result.output[result.output.index("{") :])["results"]
    assert (row["horizon"], row["season"], row["n_windows"]) == (18, 12, 5)
    assert row["model_dirs"] == {"patchtst[tiny]": str(tiny_run)}  # says which model forecast
    result = invoke("run", "timeseries", "--csv", monthly, "--model", tiny_run)
    assert "18-step forecast" in result.output and f"model {tiny_run}" in result.output
