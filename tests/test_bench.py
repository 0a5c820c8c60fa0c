"""The benchmark harness: rows, ratios, tables, JSON, 'bench all' results files, measuring helpers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from core.bench import PeakMemory, markdown, normalise, table, timed
from core.cli import cli


def test_ratio_is_filled_in_and_tables_show_every_row():
    rows = normalise(
        [
            {
                "name": "decode",
                "metric": "tokens/s",
                "value": 30.0,
                "unit": "tok/s",
                "peer": "generate",
                "peer_value": 40.0,
            },
            {"name": "memory", "metric": "peak", "value": 2.0, "unit": "GiB", "ratio": 0.5},
            {
                "name": "no peer",
                "metric": "fps",
                "value": 12,
                "unit": "fps",
                "peer": None,
                "peer_value": None,
            },
        ]
    )
    assert rows[0]["ratio"] == 0.75 and rows[1]["ratio"] == 0.5 and rows[2].get("ratio") is None
    text = table(rows).splitlines()
    assert text[0].split() == ["NAME", "METRIC", "VALUE", "UNIT", "PEER", "PEER_VALUE", "RATIO"]
    assert len(text) == 4 and "0.75" in text[1] and "generate" in text[1]
    md = markdown(rows).splitlines()
    assert md[0].startswith("| name | metric") and len(md) == 5
    other = table([{"model_fps": 10.5, "peer_fps": 5}])  # rows with their own keys still print
    assert "MODEL_FPS" in other and "10.5" in other


def test_timed_and_peak_memory_measure_real_work():
    import numpy as np

    result = timed(lambda: sum(range(20000)), repeat=5, warmup=1)
    assert 0 < result["min"] <= result["p50"] <= result["p90"]
    with PeakMemory(interval=0.001) as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block += 1
        del block
    assert memory.increase >= 48 * 2**20


def test_apps_bench_app_prints_table_and_json(tmp_path, monkeypatch):
    import tiny_app

    tiny_app.install(tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["bench", "tiny"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("NAME") and "no-grad forward" in result.output
    as_json = CliRunner().invoke(cli, ["bench", "tiny", "--json"])
    rows = json.loads(as_json.output)
    assert rows[0]["ratio"] == pytest.approx(rows[0]["value"] / rows[0]["peer_value"], rel=1e-2)


def test_bench_all_writes_results_files(tmp_path, monkeypatch):
    import tiny_app

    from core.bench import bench_all, results_markdown

    tiny_app.install(tmp_path, monkeypatch)
    out = tmp_path / "bench"
    results = bench_all(["tiny"], out)
    saved = json.loads((out / "results.json").read_text())
    assert saved["apps"]["tiny"]["rows"][0]["metric"] == "latency", saved["apps"]["tiny"]
    assert results["machine"]["python"] and "## tiny" in (out / "results.md").read_text()
    merged = {**results["apps"]["tiny"], "created": "T", "limits": {"memory_bandwidth_gbs": 9.5}}
    text = results_markdown({**results, "apps": {"tiny": merged}})  # an entry from a later run says so
    assert "Measured T in a separate run; its limits: memory_bandwidth_gbs 9.5." in text


def test_rows_with_item_costs_get_limit_fractions_and_jetson_projections(monkeypatch):
    from core import roofline
    from core.bench import project_rows

    monkeypatch.setattr(roofline, "matmul_peak_gflops", lambda dtype="fp32", **_: 100.0)
    monkeypatch.setattr(roofline, "memory_bandwidth_gbs", lambda **_: 10.0)
    vit, decode, plain = project_rows([
        {"name": "vit", "value": 20.0, "gflops_per_item": 2.5},  # 50 GFLOP/s of 100
        {"name": "decode", "value": 4.0, "gbytes_per_item": 0.5},  # 2 GB/s of 10
        {"name": "latency", "value": 3.0},
    ])
    assert vit["limit_fraction"] == 0.5 and decode["limit_fraction"] == 0.2
    assert vit["agx-orin-64gb (proj.)"] == round(42.5e3 / 2.5 * 0.5, 1)
    assert decode["orin-nano-8gb (proj.)"] == round(68 / 0.5 * 0.2, 1)
    assert "limit_fraction" not in plain


def test_decode_bytes_per_token_skip_the_input_embedding():
    from transformers import PhiConfig, PhiForCausalLM

    from plugins.chat.bench import weight_gbytes

    config = PhiConfig(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    model = PhiForCausalLM(config)
    total = sum(p.numel() for p in model.parameters()) * 4
    assert weight_gbytes(model) * 1e9 == pytest.approx(total - 100 * 16 * 4)  # one embedding row per token


def test_phi15_rows_are_planned_by_memory_and_native_precisions():
    from plugins.chat.bench import phi15_plan

    assert phi15_plan(False, "auto") == []
    assert phi15_plan(True, "fp32, bf16") == ["fp32", "bf16"]
    assert phi15_plan(True, "auto")[0] == "fp32"
