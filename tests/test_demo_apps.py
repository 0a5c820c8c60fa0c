"""The built-in apps' demo tabs in a real headless Chromium, each against 'apps demo APP' on a free port."""

from __future__ import annotations

import io
import os
import shutil
import time
import urllib.request
from pathlib import Path

from tests.browser import browser_page, demo_server, needs_chromium, screenshot
from tests.test_chat_model import env, lora_run, tiny_base  # noqa: F401  (module fixtures: a tiny chat run)
from tests.test_timeseries import tiny_run  # noqa: F401  (module fixture: a tiny PatchTST run)


def _install_default(app: str, run_dir: Path) -> None:
    """Make a run directory the app's offline default, as 'apps prepare APP' would."""
    from core.paths import default_model_dir

    target = default_model_dir(app)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run_dir, target)


@needs_chromium
def test_chat_tab_streams_an_answer(lora_run):  # noqa: F811
    _install_default("chat", lora_run)
    with demo_server("chat", env={"APPS_HOME": os.environ["APPS_HOME"]}) as (url, _), browser_page() as page:
        page.goto(url)
        page.locator("#chat-input textarea").fill("你好")
        page.locator("#chat-send").click()
        history = page.locator("#chat-history")
        history.get_by_text("你好").first.wait_for()
        seen, deadline = set(), time.monotonic() + 120
        while time.monotonic() < deadline:
            bubbles = history.locator(".message").all_inner_texts()
            if len(bubbles) >= 2 and bubbles[-1].strip():
                seen.add(bubbles[-1].strip())
                if not page.locator("#chat-send").is_disabled() and len(seen) >= 1:
                    time.sleep(1)
                    if history.locator(".message").all_inner_texts()[-1].strip() in seen:
                        break
            time.sleep(0.2)
        assert seen, "no answer appeared"
        screenshot(page, "demo-chat")


@needs_chromium
def test_vit_tab_labels_an_uploaded_image(tmp_path):
    import cv2
    import numpy as np
    import torch

    from plugins.vit.model import TimmClassifier
    from tests.test_vit import LABELS, TINY

    torch.manual_seed(0)
    model = tmp_path / "tiny-vit"
    TimmClassifier("vit_tiny_patch16_224", LABELS, TINY).save_pretrained(model)
    (model / "run.json").write_text('{"app": "vit", "status": "complete"}')  # what 'apps prepare' leaves
    _install_default("vit", model)
    image = np.full((240, 240, 3), 255, np.uint8)
    cv2.putText(image, "7", (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 7, (0, 0, 0), 18)
    cv2.imwrite(str(tmp_path / "seven.png"), image)
    with demo_server("vit", env={"APPS_HOME": os.environ["APPS_HOME"]}) as (url, _), browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="upload").click()
        page.locator("#vit-upload input[type=file]").set_input_files(str(tmp_path / "seven.png"))
        labels = page.locator("#vit-labels")
        labels.get_by_text("%").first.wait_for()
        text = labels.inner_text()
        assert any(label in text.split() for label in LABELS), text
        page.locator("#vit-result img").wait_for()
        screenshot(page, "demo-vit")


@needs_chromium
def test_timeseries_tab_plots_a_forecast(tiny_run):  # noqa: F811
    _install_default("timeseries", tiny_run)
    with demo_server("timeseries", env={"APPS_HOME": os.environ["APPS_HOME"]}) as (url, _), browser_page() as page:
        page.goto(url)
        page.locator("#ts-dataset input").click()
        page.get_by_role("option", name="elnino", exact=True).click()
        page.locator("#ts-run").click()
        page.locator("#ts-plot img").wait_for()
        table = page.locator("#ts-table")
        table.get_by_text("ETS").first.wait_for()
        assert page.locator("#ts-plot img").evaluate("img => img.naturalWidth") > 500
        screenshot(page, "demo-timeseries")


def test_control_tab_runs_an_expert_episode_to_an_animation():
    from PIL import Image

    from core.errors import AppsError
    from plugins.control.app import ControlApp
    from plugins.control.demo import run_episode

    gif, result = run_episode(ControlApp(), "Maze-v0", "expert", 2_000_000, 100)
    assert result["success"] is True and result["path_ratio"] == 1.0
    with Image.open(gif) as animation:
        assert animation.n_frames == result["length"] + 1
    import pytest

    with pytest.raises(AppsError, match="apps prepare control"):
        run_episode(ControlApp(), "CartPole-v1", "trained policy", 0, 50)


def test_speech_tab_input_is_checked_and_converted(monkeypatch):
    import numpy as np
    import pytest

    from core.errors import AppsError
    from plugins.asr_tts.demo import transcribe

    class Recorder:
        name = "asr"

        def predict(self, waves):
            self.waves = waves
            return [{"text": "stop", "speech": True}]

        def emit(self, result, **context):
            self.emitted = result

    app = Recorder()
    with pytest.raises(AppsError, match="record or upload"):
        transcribe(app, None)
    stereo_int16 = np.stack([np.full(8000, 16384, np.int16)] * 2, axis=1)  # 0.5 s at 16 kHz, half scale
    assert transcribe(app, (16000, stereo_int16)) == "stop"
    wave = app.waves[0]
    assert wave.ndim == 1 and len(wave) == 8000 and abs(float(wave.mean()) - 0.5) < 0.01
    assert app.emitted["text"] == "stop"


@needs_chromium
def test_speech_and_control_tabs_in_the_browser(tmp_path):
    """asr: an uploaded recording -> transcript; tts: text -> playable audio; control: an episode animation."""
    import numpy as np
    import pytest
    import soundfile as sf

    from tests.test_asr import train_tiny_asr

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make system-deps)")
    _install_default("asr", train_tiny_asr(tmp_path / "asr")["run"])
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000, np.float32), 16000)  # silence: a known answer from any model
    with demo_server("asr", "tts", "control", env={"APPS_HOME": os.environ["APPS_HOME"]}) as (url, _), \
            browser_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="asr").click()
        page.locator("#asr-audio").get_by_label("Upload file").click()
        page.locator("#asr-audio input[type=file]").set_input_files(str(quiet))
        page.locator("#asr-run").click()
        page.wait_for_function("() => document.querySelector('#asr-text textarea').value.includes('no speech')")
        screenshot(page, "demo-asr")

        page.get_by_role("tab", name="tts").click()
        page.locator("#tts-text textarea").fill("move forward three")
        page.locator("#tts-run").click()
        download = page.locator("#tts-audio a[download]").first
        download.wait_for(state="attached")
        with urllib.request.urlopen(download.get_attribute("href")) as response:  # the file the player plays
            wave, rate = sf.read(io.BytesIO(response.read()))
        assert len(wave) / rate > 0.5 and np.abs(wave).max() > 0.05
        screenshot(page, "demo-tts")

        page.get_by_role("tab", name="control").click()
        page.get_by_label("expert").check()
        page.locator("#control-run").click()
        page.locator("#control-video img").wait_for()
        page.locator("#control-result").get_by_text("success").first.wait_for()
        screenshot(page, "demo-control")
