"""apps doctor and device profiles, against recorded files of three Jetson boards and a PC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import cli
from core.doctor import format_report, report
from core.errors import AppsError
from core.profiles import PROFILES, detect, get_profile, jetson_profile

FIXTURES = Path(__file__).parent / "fixtures" / "doctor"

BOARDS = {
    "orin-nano-8gb": ("NVIDIA Jetson Orin Nano Developer Kit", "36.4.3", 7.4, "mode 2"),
    "orin-nx-16gb": ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "36.4.3", 14.9, "mode 0"),
    "agx-orin-64gb": ("NVIDIA Jetson AGX Orin Developer Kit", "36.3.0", 61.4, "mode 0"),
}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_doctor_reads_a_jetson(board):
    model, l4t, memory_gb, mode = BOARDS[board]
    data = report(FIXTURES / board, probe_software=False)
    assert data["jetson"] == {"model": model, "l4t": l4t, "power_mode": mode, "profile": board}
    assert data["memory_gb"] == memory_gb and data["swap_gb"] > 0
    assert "/dev/video0" in data["cameras"] and data["csi_camera"] is True
    assert any("HDA" in card for card in data["audio"])
    assert detect(FIXTURES / board) == board


def test_doctor_reads_a_pc():
    data = report(FIXTURES / "x86-pc", probe_software=False)
    assert data["jetson"]["model"] is None and data["csi_camera"] is False
    assert data["memory_gb"] == 31.2 and data["audio"] == ["HDA Intel PCH"]
    assert "Jetson        no (a PC)" in format_report(data)
    assert detect(FIXTURES / "x86-pc") in ("cpu", "cuda")


def test_doctor_cli_json_covers_software_and_apps():
    result = CliRunner().invoke(cli, ["doctor", "--json", "--root", str(FIXTURES / "agx-orin-64gb")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["torch"]["installed"] is True and "cuda_available" in data["torch"]
    assert "gstreamer" in data["opencv"] and "CPUExecutionProvider" in data["onnxruntime_providers"]
    assert {"vit", "chat", "asr", "tts", "timeseries", "control"} <= set(data["apps"])
    assert all(app["precision"] in ("fp32", "bf16", "fp16") for app in data["apps"].values())


def test_profiles_fit_the_board_memory():
    assert jetson_profile("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 15) == "orin-nx-16gb"
    assert jetson_profile("Some Orin carrier board", 7.5) == "orin-nano-8gb"
    assert jetson_profile("Dell Inc. XPS", 32) is None
    nano, nx, agx = (PROFILES[name] for name in ("orin-nano-8gb", "orin-nx-16gb", "agx-orin-64gb"))
    import core
    from plugins.chat.app import ChatApp

    assert ChatApp.profile_settings(nano)["gradient_checkpointing"] is True
    assert ChatApp.profile_settings(nano)["cutoff_len"] < ChatApp.profile_settings(nx)["cutoff_len"] <= 1024
    assert core.App.profile_settings(agx) == {}


def test_profile_can_be_forced(monkeypatch):
    monkeypatch.setenv("APPS_PROFILE", "orin-nx-16gb")
    assert get_profile().name == "orin-nx-16gb"
    with pytest.raises(AppsError, match="unknown device profile"):
        get_profile("orin-mega")
    result = CliRunner().invoke(cli, ["--profile", "orin-mega", "list"])
    assert result.exit_code != 0


def test_gpu_check_skips_cleanly_without_a_gpu():
    import subprocess
    import sys

    import torch

    result = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], capture_output=True, text=True, timeout=600,
                            cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    if not torch.cuda.is_available():
        assert result.stdout.startswith("skipped: no CUDA GPU")
    else:
        assert "0 failed" in result.stdout


def test_profile_settings_sit_between_the_recipe_file_and_the_command_line(monkeypatch, capsys):
    from core.training.cli import resolve_recipe
    from plugins.chat.app import ChatApp

    monkeypatch.setenv("APPS_PROFILE", "orin-nano-8gb")
    recipe, name = resolve_recipe(ChatApp(), "tiny-zh-lora", ["batch_size=3"])
    assert name == "tiny-zh-lora"
    assert recipe.cutoff_len == 512 and recipe.gradient_checkpointing is True and recipe.precision == "fp16"
    assert recipe.batch_size == 3  # the command line wins over the profile
    assert "device profile orin-nano-8gb" in capsys.readouterr().err
    monkeypatch.setenv("APPS_PROFILE", "cpu")
    plain = resolve_recipe(ChatApp(), "tiny-zh-lora", [])[0]
    assert plain.gradient_checkpointing is False and plain.precision != "fp16"
