"""core.media: sources (synthetic, files, folders, cameras, plugin schemes), threading (newest frame,
reconnect), sinks (video, images, MJPEG over HTTP) and overlay."""

from __future__ import annotations

import threading
import time
import urllib.request

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from core.errors import AppsError  # noqa: E402
from core.media import Capture, FrameSource, known_schemes, open_sink, open_source  # noqa: E402
from core.media.overlay import FpsMeter, draw_heatmap, draw_stats, draw_top_k  # noqa: E402
from core.media.sinks import SinkWorker  # noqa: E402


def test_synthetic_source_gives_labelled_frames_then_ends():
    with open_source("synthetic://?frames=7&width=320&height=240&hold=3") as source:
        frames = list(source)
    assert [f.index for f in frames] == list(range(7))
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.meta["label"] for f in frames] == ["0", "0", "0", "1", "1", "1", "2"]
    assert not np.array_equal(frames[0].image, frames[3].image)


def test_preprocess_runs_in_capture_thread():
    threads = set()

    def preprocess(image):
        threads.add(threading.current_thread().name)
        return image.shape

    with open_source("synthetic://", frames=3, width=64, height=48, preprocess=preprocess) as source:
        frames = list(source)
    assert [f.data for f in frames] == [(48, 64, 3)] * 3
    assert threading.current_thread().name not in threads


def test_unsupported_scheme_lists_known_ones():
    with pytest.raises(AppsError) as error:
        open_source("ftp://example.com/clip.mp4")
    text = str(error.value)
    assert "ftp" in text and "synthetic://" in text and "csi://" in text and "rtsp://" in text


def test_missing_file_and_missing_camera_fail_fast():
    with pytest.raises(AppsError, match="no such file"):
        open_source("/nonexistent/clip.mp4")
    start = time.monotonic()
    with pytest.raises(AppsError) as error:
        open_source(57)
    assert time.monotonic() - start < 5
    assert "/dev/video57" in str(error.value) and "cameras found" in str(error.value)


def test_csi_without_gstreamer_explains():
    from core.media.sources import gstreamer_available

    if gstreamer_available():
        pytest.skip("this OpenCV has GStreamer")
    with pytest.raises(AppsError, match="GStreamer"):
        open_source("csi://0")


def test_image_folder_converts_gray_and_rgba_and_skips_corrupt(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "a_gray.png"), np.full((20, 30), 100, np.uint8))
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: composed on white
    cv2.imwrite(str(tmp_path / "b_rgba.png"), rgba)
    (tmp_path / "c_corrupt.jpg").write_bytes(b"not a jpeg at all")
    cv2.imwrite(str(tmp_path / "d_color.jpg"), np.zeros((10, 10, 3), np.uint8))
    with open_source(str(tmp_path)) as source:
        frames = list(source)
    assert len(frames) == 3
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in frames)
    assert frames[0].image[0, 0].tolist() == [100, 100, 100]
    assert frames[1].image[0, 0].tolist() == [255, 255, 255]
    assert "c_corrupt.jpg" in capsys.readouterr().err


def test_video_file_round_trip_and_loop(tmp_path):
    path = tmp_path / "clip.mp4"
    sink = open_sink(str(path), fps=10)
    with open_source("synthetic://?frames=10&width=160&height=120") as source:
        for frame in source:
            sink.write(frame.image)
    sink.close()
    with open_source(str(path)) as source:
        assert len(list(source)) == 10
    capture = open_source(str(path), start=False).capture
    capture.open()  # one decoder thread: FFmpeg's own would compete with the model's on small boards
    assert capture.cap.get(cv2.CAP_PROP_N_THREADS) == 1
    capture.close()
    with open_source(str(path), loop=True, max_frames=25) as source:
        frames = list(source)
    assert len(frames) == 25 and frames[-1].image.shape == (120, 160, 3)


class FastCamera(Capture):
    live = True
    description = "fast camera"

    def __init__(self):
        self.count = 0

    def read(self):
        time.sleep(0.002)
        self.count += 1
        return np.full((4, 4, 3), self.count % 256, np.uint8)


def test_live_source_hands_on_the_newest_frame():
    with FrameSource(FastCamera()) as source:
        first = source.read(timeout=2)
        time.sleep(0.3)  # a slow consumer: frames pile up at the camera
        later = source.read(timeout=2)
    assert later.index - first.index > 20  # older frames were dropped, not queued
    assert source.dropped > 0
    assert time.time() - later.time < 0.25


class FlakyCamera(Capture):
    """Gives 5 frames, then fails; its first reopen fails too."""

    live = True
    description = "flaky camera"

    def __init__(self):
        self.opens = self.frames = 0

    def open(self):
        self.opens += 1
        if self.opens == 2:
            raise AppsError("camera still gone")
        self.frames = 0

    def read(self):
        time.sleep(0.005)
        self.frames += 1
        return None if self.frames > 5 else np.zeros((4, 4, 3), np.uint8)


def test_lost_camera_is_reopened_with_backoff():
    camera = FlakyCamera()
    statuses = set()
    frames_after = {}  # reconnect count -> frames read since (the newest frame wins, so counts vary)
    with FrameSource(camera, max_backoff=0.3) as source:
        deadline = time.monotonic() + 20
        while not (source.reconnects >= 2 and frames_after.get(2)) and time.monotonic() < deadline:
            statuses.add(source.status)
            if source.read(timeout=0.05) is not None:
                frames_after[source.reconnects] = frames_after.get(source.reconnects, 0) + 1
    assert source.reconnects >= 2 and camera.opens >= 4
    assert frames_after.get(0) and frames_after.get(2), frames_after  # frames before and after reconnecting
    assert "reconnecting" in statuses
    assert "camera still gone" in source.error or source.error == ""


def test_plugin_scheme_through_register_sources(monkeypatch):
    from core import hookimpl
    from core.plugins import get_manager, reset_manager

    class Plugin:
        @staticmethod
        @hookimpl
        def register_sources(register):
            register(scheme="testpattern", opener=lambda uri, **o: FastCamera(), description="a test pattern")

    reset_manager()
    try:
        get_manager().pm.register(Plugin, name="testpattern-plugin")
        assert known_schemes()["testpattern"] == "a test pattern"
        with open_source("testpattern://x") as source:
            assert source.read(timeout=2).image.shape == (4, 4, 3)
            assert source.latest  # a live capture
    finally:
        reset_manager()


def test_mjpeg_stream_serves_page_snapshot_and_stream():
    sink = open_sink("http://127.0.0.1:0")
    try:
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, :32] = (0, 0, 255)
        sink.write(image)
        page = urllib.request.urlopen(sink.url, timeout=5).read()
        assert b"/stream" in page
        jpeg = urllib.request.urlopen(sink.url + "snapshot.jpg", timeout=5).read()
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (48, 64, 3) and decoded[10, 5, 2] > 200 and decoded[10, 60, 2] < 50
        response = urllib.request.urlopen(sink.url + "stream", timeout=5)
        assert "multipart/x-mixed-replace" in response.headers["Content-Type"]
        writer = threading.Thread(target=lambda: [sink.write(image) or time.sleep(0.05) for _ in range(20)])
        writer.start()
        chunk = response.read(2000)
        writer.join()
        assert b"--frame" in chunk and b"image/jpeg" in chunk
        response.close()
    finally:
        sink.close()


def test_bad_outputs_are_explained(tmp_path):
    with pytest.raises(AppsError, match="unsupported output"):
        open_sink("ftp://host/x")
    with pytest.raises(AppsError, match="cannot tell"):
        open_sink(str(tmp_path / "result.xyz"))


def test_sink_worker_renders_every_item_in_order(tmp_path):
    class Recorder:
        description, closed, interactive = "recorder", False, False

        def __init__(self):
            self.values = []

        def write(self, image):
            self.values.append(int(image[0, 0, 0]))

        def close(self):
            pass

    recorder = Recorder()
    worker = SinkWorker([recorder], render=lambda n: np.full((2, 2, 3), n, np.uint8), drop=False, depth=2)
    for n in range(30):
        worker.submit(n)
    worker.close()
    assert recorder.values == list(range(30))


def test_model_workers_run_concurrently_and_hand_results_on_in_frame_order():
    from core.media.workers import ModelWorkers

    running, most = [0], [0]
    lock = threading.Lock()

    def infer(frame):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.03 if frame.index % 3 == 0 else 0.001)  # later frames often finish first
        with lock:
            running[0] -= 1
        return frame.index * 10

    with open_source("synthetic://?frames=24&width=64&height=48") as source:
        pool = ModelWorkers(source, infer, workers=2)
        results = []
        while not pool.finished:
            result = pool.get(timeout=1.0)
            if result is not None:
                results.append(result)
        pool.close()
    assert [frame.index for frame, _, _ in results] == list(range(24))
    assert [output for _, output, _ in results] == [10 * n for n in range(24)]
    assert most[0] == 2 and all(seconds > 0 for _, _, seconds in results)


def test_model_workers_raise_the_model_error_in_the_reader():
    from core.media.workers import ModelWorkers

    def infer(frame):
        raise ValueError(f"bad frame {frame.index}")

    with open_source("synthetic://?frames=5&width=64&height=48") as source:
        pool = ModelWorkers(source, infer, workers=2)
        with pytest.raises(ValueError, match="bad frame"):
            for _ in range(50):
                pool.get(timeout=0.2)
        pool.close()


def test_overlay_draws_labels_stats_and_heatmap_on_the_model_square():
    image = np.full((240, 320, 3), 128, np.uint8)
    draw_top_k(image, [{"label": "cup", "score": 0.9}, {"label": "mug", "score": 0.05}])
    draw_stats(image, 25.0, 60.0)
    assert not np.all(image[:40, :150] == 128) and not np.all(image[-20:, :100] == 128)
    plain = np.full((240, 320, 3), 128, np.uint8)
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0] = 1.0
    draw_heatmap(plain, heat)
    assert np.all(plain[:, :38] == 128) and np.all(plain[:, 282:] == 128)  # outside the centre square
    assert np.abs(plain[45, 60].astype(int) - 128).sum() > np.abs(plain[200, 260].astype(int) - 128).sum()


def test_fps_meter():
    meter = FpsMeter()
    for i in range(11):
        meter.tick(i * 0.1)
    assert meter.value == pytest.approx(10.0)


def test_media_import_is_light():
    import subprocess
    import sys

    code = "import sys, core.media; assert 'cv2' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
