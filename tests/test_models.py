"""Model resolution: run directories, ONNX files, folders, timm names, hub ids, offline errors, safe loads."""

from __future__ import annotations

import json

import pytest

from core.errors import AppsError
from core.models import hf_from_pretrained, load_weights, resolve_model, torch_load


class Payload:
    """A Python object in a checkpoint: unpickling it could run code."""


class FakeApp:
    name = "demo"
    default_model = "org/demo-model"


def test_local_specs_are_classified(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"app": "demo"}))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    assert resolve_model(str(run)).kind == "run"
    assert resolve_model(str(folder)).kind == "folder"
    assert resolve_model(str(onnx)).kind == "onnx"
    assert resolve_model(str(weights)).kind == "file"


def test_names_and_missing_paths():
    assert resolve_model("microsoft/phi-1_5").kind == "hub"
    assert resolve_model("timm/vit_tiny_patch16_224").location == "vit_tiny_patch16_224"
    assert resolve_model("vit_tiny_patch16_224").kind == "timm"
    with pytest.raises(AppsError, match="does not exist"):
        resolve_model("./no/such/folder")
    with pytest.raises(AppsError, match="does not exist"):
        resolve_model("missing.onnx")


def test_default_is_the_prepared_run_then_the_app_default(monkeypatch, tmp_path):
    from core.paths import default_model_dir

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    assert resolve_model(None, FakeApp()).kind == "hub"
    prepared = default_model_dir("demo")
    prepared.mkdir(parents=True)
    (prepared / "run.json").write_text("{}")
    ref = resolve_model(None, FakeApp())
    assert ref.kind == "run" and ref.path == prepared


def test_offline_missing_hub_model_says_how_to_get_it(monkeypatch, tmp_path):
    from transformers import AutoConfig

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty ordinary cache too
    with pytest.raises(AppsError) as error:
        hf_from_pretrained(AutoConfig, "someone/not-cached-model", app=FakeApp())
    assert "not-cached-model" in error.value.message and "offline" in error.value.message
    assert "apps prepare demo" in error.value.hint


def test_local_folder_and_run_dir_load(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path / "cfg")
    assert hf_from_pretrained(BertConfig, str(tmp_path / "cfg")).hidden_size == 32


def test_checkpoints_load_safely(tmp_path):
    import torch
    from safetensors.torch import save_file

    torch.save({"weight": torch.ones(2)}, tmp_path / "plain.pt")
    assert torch_load(tmp_path / "plain.pt")["weight"].sum() == 2

    torch.save({"object": Payload()}, tmp_path / "pickled.pt")
    with pytest.raises(AppsError, match="could run code"):
        torch_load(tmp_path / "pickled.pt")
    save_file({"w": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    assert load_weights(tmp_path / "w.safetensors")["w"].shape == (3,)
