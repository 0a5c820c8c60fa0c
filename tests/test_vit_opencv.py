"""One OpenCV with a GUI: `apps run vit` opens a window on a display (Xvfb, a screenshot that is not blank),
says why it runs headless otherwise; a simulated Jetson keeps its GStreamer cv2 (scripts/keep_system_opencv.py);
`apps doctor` tells which cv2 is active."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import apps_command

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "keep_system_opencv.py"


def _fake_cv2(folder: Path, gstreamer: bool) -> None:
    (folder / "cv2").mkdir(parents=True)
    build = f"  GUI:  QT5\\n  GStreamer:  {'YES (1.20.3)' if gstreamer else 'NO'}\\n"
    (folder / "cv2" / "__init__.py").write_text(
        f'__version__ = "4.10.0"\ndef getBuildInformation():\n    return "{build}"\n'
    )


@pytest.fixture
def jetson_venv(tmp_path):
    """A --system-site-packages venv with a stand-in pip wheel (opencv-python, no GStreamer) in its
    site-packages, and a stand-in system cv2 (GStreamer) in a folder the venv reads after its own (what
    JetPack's /usr/lib/python3/dist-packages is to a --system-site-packages venv)."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    _fake_cv2(site, gstreamer=False)
    info = site / "opencv_python-4.10.0.84.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opencv-python\nVersion: 4.10.0.84\n")
    (info / "INSTALLER").write_text("pip\n")
    records = ["cv2/__init__.py", *(f"{info.name}/{name}" for name in ("METADATA", "INSTALLER", "RECORD"))]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in records))
    system = tmp_path / "system-dist-packages"
    _fake_cv2(system, gstreamer=True)
    (site / "zz_system_site.pth").write_text(f"{system}\n")  # after the venv's own site-packages
    tools = tmp_path / "tools"  # pip and the repository's core, for the script (the venv has neither)
    tools.mkdir()
    import pip

    (tools / "pip").symlink_to(Path(pip.__file__).parent)
    (tools / "core").symlink_to(ROOT / "core")
    (site / "tools.pth").write_text(f"{tools}\n")
    return python, system, tmp_path


def _active_cv2(python) -> str:
    code = "import cv2; print(cv2.__file__, 'GStreamer:  YES' in cv2.getBuildInformation())"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout


def _keep(python, marker: Path):
    env = {**os.environ, "APPS_TEGRA_RELEASE": str(marker)}
    env.pop("PYTHONPATH", None)
    return subprocess.run([python, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)


def test_simulated_jetson_keeps_the_gstreamer_cv2(jetson_venv):
    python, system, tmp = jetson_venv
    assert "system-dist-packages" not in _active_cv2(python)  # the pip wheel hides the system build
    not_jetson = _keep(python, tmp / "absent-marker")
    assert not_jetson.returncode == 0 and "not a Jetson" in not_jetson.stdout
    assert "system-dist-packages" not in _active_cv2(python)  # nothing removed on another machine
    marker = tmp / "nv_tegra_release"
    marker.write_text("# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64\n")
    result = _keep(python, marker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removing opencv-python" in result.stdout
    active = _active_cv2(python)
    assert str(system / "cv2") in active and active.strip().endswith("True")
    assert _keep(python, marker).returncode == 0  # again: nothing left to remove, still the system cv2


def test_simulated_jetson_without_a_gstreamer_cv2_keeps_the_wheel(jetson_venv):
    python, system, tmp = jetson_venv
    shutil.rmtree(system / "cv2")
    _fake_cv2(system, gstreamer=False)
    marker = tmp / "nv_tegra_release"
    marker.write_text("# R35 (release), REVISION: 4.1\n")
    result = _keep(python, marker)
    assert result.returncode == 0 and "no GStreamer OpenCV" in result.stderr
    assert "system-dist-packages" not in _active_cv2(python)


def test_doctor_names_the_active_cv2_and_warns_when_a_wheel_hides_gstreamer(jetson_venv):
    python, system, _ = jetson_venv
    code = "from core.doctor import opencv_info; import json; print(json.dumps(opencv_info()))"
    import json

    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    info = json.loads(out)
    assert info["wheels"] == ["opencv-python 4.10.0.84"] and info["gui"] == "QT5" and not info["gstreamer"]
    assert info["hidden_gstreamer"] == [str(system / "cv2")] and "pip uninstall" in info["warning"]


cv2 = pytest.importorskip("cv2")
pytest.importorskip("timm")


def _has_gui() -> bool:
    return any(
        line.strip().startswith("GUI:") and "NONE" not in line.upper()
        for line in cv2.getBuildInformation().splitlines()
    )


@pytest.mark.skipif(not shutil.which("Xvfb") or not shutil.which("ffmpeg"), reason="needs Xvfb and ffmpeg")
def test_window_opens_on_a_display(tmp_path):
    """Under Xvfb the live view opens a window and says so; a screenshot of the screen is not blank."""
    if not _has_gui():
        pytest.skip("this OpenCV has no GUI (opencv-python-headless)")
    import torch

    from plugins.vit.model import TimmClassifier

    torch.manual_seed(0)
    labels = [str(d) for d in range(10)] + ["circle", "square", "triangle", "star", "none"]
    tiny = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}
    TimmClassifier("vit_tiny_patch16_224", labels, tiny).save_pretrained(tmp_path / "model")
    display = f":{90 + os.getpid() % 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"])
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "APPS_HOME": str(tmp_path / "home")}
    run = None
    try:
        time.sleep(1.0)
        command = [*apps_command(), "run", "vit", "--model", str(tmp_path / "model"),
                   "--source", "synthetic://", "--loop", "-n", "100000"]  # fmt: skip
        run = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        shot = tmp_path / "screen.png"
        for _ in range(40):  # the window appears within seconds (model load, first frames)
            time.sleep(1.0)
            grab = subprocess.run(
                ["ffmpeg", "-loglevel", "error", "-y", "-f", "x11grab", "-video_size", "640x480", "-i", display,
                 "-frames:v", "1", str(shot)], capture_output=True, env=env,
            )  # fmt: skip
            image = cv2.imread(str(shot)) if grab.returncode == 0 else None
            if image is not None and image.std() > 10:
                break
            assert run.poll() is None, run.stdout.read()
        assert image is not None and image.std() > 10, "the screen stayed blank"
        assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # a picture, not a flat colour
    finally:
        if run is not None:
            run.terminate()
            output = run.communicate(timeout=30)[0]
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert f"window: on display {display}" in output, output


def test_no_display_says_why_it_runs_headless(monkeypatch):
    from plugins.vit.live import why_headless

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "no display" in why_headless()
    monkeypatch.setenv("DISPLAY", ":0")
    assert "no GUI" in why_headless() and "opencv-python" in why_headless()
