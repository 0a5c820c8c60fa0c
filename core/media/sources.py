"""Frame sources: one entry point, :func:`open_source`, for cameras, CSI, streams, files and test clips.

A source is two parts:

- a :class:`Capture` (the device or file: ``open()``, ``read() -> BGR image | None``, ``close()``), which a
  plugin may supply for a new URI scheme through the ``register_sources`` hook;
- a :class:`FrameSource`, which reads the capture in its own thread. For live captures (cameras, streams)
  it always hands on the newest frame, dropping older ones, so the picture never lags behind; for files it
  hands on every frame in order (the reader thread waits for the consumer). A live capture that fails is
  reopened with exponential backoff while ``status`` says so; a capture that cannot open at all fails
  fast with an :class:`~core.errors.AppsError` (for cameras: listing the cameras that exist).
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from core.errors import AppsError
from core.media.capture import Capture

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class Frame:
    """One captured picture. ``image`` is BGR uint8 (OpenCV order); ``index`` counts every frame the
    capture produced (gaps mean dropped frames); ``data`` is what the ``preprocess`` callback returned
    (computed in the capture thread); ``meta`` carries facts from the capture (e.g. a synthetic label)."""

    image: np.ndarray
    index: int
    time: float
    source: str
    data: Any = None
    meta: dict = field(default_factory=dict)


# ---- built-in captures ----------------------------------------------------------------------------
class OpenCVCapture(Capture):
    """cv2.VideoCapture over a device index, a file, a URL or a GStreamer pipeline."""

    def __init__(
        self,
        target,
        api: int | None = None,
        live: bool = False,
        description: str = "",
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        failure: Callable[[], AppsError] | None = None,
        params: list[int] | None = None,
    ):
        self.target, self.api, self.live = target, api, live
        self.description = description or str(target)
        self.size, self.fps_wanted, self.params = (width, height), fps, params or []
        self.failure = failure
        self.cap = None

    def open(self) -> None:
        import cv2

        api = cv2.CAP_ANY if self.api is None else self.api
        self.cap = (
            cv2.VideoCapture(self.target, api, self.params)
            if self.params
            else cv2.VideoCapture(self.target, api)
        )
        if not self.cap.isOpened():
            self.cap.release()
            self.cap = None
            raise self.failure() if self.failure else AppsError(f"cannot open {self.description}")
        width, height = self.size
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if self.fps_wanted:
            self.cap.set(cv2.CAP_PROP_FPS, self.fps_wanted)
        if self.live:
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the driver's queue is lag too
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            return None
        ok, image = self.cap.read()
        if not ok or image is None:
            return None
        if image.ndim == 2 or image.shape[2] != 3:
            from core.media.images import to_bgr

            image = to_bgr(image)
        return image

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class ImageFilesCapture(Capture):
    """Image files (one file, a folder, a glob) read in name order; unreadable files are skipped and counted."""

    def __init__(self, paths: list[Path], description: str):
        self.paths, self.description = paths, description
        self.position = 0
        self.skipped: list[str] = []

    def open(self) -> None:
        self.position = 0

    def read(self) -> np.ndarray | None:
        from core.media.images import read_image

        while self.position < len(self.paths):
            path = self.paths[self.position]
            self.position += 1
            image = read_image(path)
            if image is not None:
                self.meta = {"path": str(path)}
                return image
            if str(path) not in self.skipped:
                self.skipped.append(str(path))
                print(f"warning: skipped {path}: not a readable image", file=sys.stderr)
        return None


# ---- the threaded reader ------------------------------------------------------------------------
class FrameSource:
    """Reads a :class:`Capture` in a background thread and hands frames to one consumer.

    Options: ``latest`` (drop old frames; default: the capture is live), ``loop`` (restart a file at its
    end), ``reconnect`` (reopen a failed capture with backoff; default: the capture is live),
    ``max_backoff`` seconds between reopen attempts, ``preprocess`` (a function of the BGR image run in the
    capture thread; its result is ``Frame.data``), ``max_frames`` (stop after that many frames).

    ``status`` is ``"starting"``, ``"ok"``, ``"reconnecting"`` or ``"ended"``; ``reconnects`` counts
    successful reopenings, ``dropped`` frames replaced before they were read, ``error`` the last failure.
    """

    def __init__(
        self,
        capture: Capture,
        uri: str = "",
        latest: bool | None = None,
        loop: bool = False,
        reconnect: bool | None = None,
        max_backoff: float = 5.0,
        preprocess: Callable | None = None,
        max_frames: int | None = None,
    ):
        self.capture, self.uri = capture, uri or capture.description
        self.latest = capture.live if latest is None else bool(latest)
        self.reconnect = capture.live if reconnect is None else bool(reconnect)
        self.loop, self.max_backoff = bool(loop), float(max_backoff)
        self.preprocess, self.max_frames = preprocess, max_frames
        self.status, self.error = "starting", ""
        self.reconnects = self.dropped = self.produced = 0
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def description(self) -> str:
        return self.capture.description

    @property
    def fps(self) -> float | None:
        return self.capture.fps

    @property
    def ended(self) -> bool:
        with self._cond:
            return self.status == "ended" and self._slot is None

    def start(self) -> FrameSource:
        """Open the capture now (so that a bad source fails here, fast) and start the reader thread."""
        if self._thread is None:
            self.capture.open()
            self.status = "ok"
            self._thread = threading.Thread(target=self._reader, name=f"source {self.uri}", daemon=True)
            self._thread.start()
        return self

    # -- reader thread
    def _reader(self) -> None:
        empty_restarts = 0
        try:
            while not self._stop.is_set():
                if self.max_frames is not None and self.produced >= self.max_frames:
                    break
                try:
                    image = self.capture.read()
                except Exception as exc:  # a driver error is a lost capture, not a crash
                    self.error, image = f"{type(exc).__name__}: {exc}", None
                if image is None:
                    if self.reconnect:
                        if not self._reopen_with_backoff():
                            break
                        continue
                    if self.loop and empty_restarts < 2:
                        empty_restarts += 1  # two empty passes in a row: nothing to loop over
                        self.capture.close()
                        self.capture.open()
                        continue
                    break
                empty_restarts = 0
                frame = Frame(image, self.produced, time.time(), self.uri, meta=dict(self.capture.meta or {}))
                if self.preprocess is not None:
                    frame.data = self.preprocess(image)
                self.produced += 1
                self._put(frame)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._cond:
                self.status = "ended"
                self._cond.notify_all()
            self.capture.close()

    def _reopen_with_backoff(self) -> bool:
        with self._cond:
            self.status = "reconnecting"
            self._cond.notify_all()
        self.capture.close()
        delay = 0.25
        while not self._stop.wait(delay):
            try:
                self.capture.open()
            except Exception as exc:
                self.error = str(exc).splitlines()[0]
                delay = min(delay * 2, self.max_backoff)
                continue
            self.reconnects += 1
            with self._cond:
                self.status = "ok"
            return True
        return False

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if not self.latest:
                while self._slot is not None and not self._stop.is_set():
                    self._cond.wait(0.1)
            elif self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._cond.notify_all()

    # -- consumer side
    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame (the newest one for live sources). None when the source ended, or when
        ``timeout`` seconds passed without a frame (check ``status``: a live source may be reconnecting)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._slot is None:
                if self.status == "ended" or self._thread is None:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def __iter__(self):
        if self._thread is None:
            self.start()
        while True:
            frame = self.read(timeout=0.5)
            if frame is not None:
                yield frame
            elif self.ended:
                return

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.capture.close()

    def __enter__(self) -> FrameSource:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FrameSource {self.uri} {self.status}>"


# ---- cameras ------------------------------------------------------------------------------------
def list_cameras() -> list[str]:
    """The V4L2 camera devices that exist (/dev/video*), sorted by number."""
    devices = glob.glob("/dev/video*")
    return sorted(
        (d for d in devices if d[len("/dev/video") :].isdigit()), key=lambda d: int(d[len("/dev/video") :])
    )


def _camera_hint() -> str:
    cameras = list_cameras()
    found = f"cameras found: {', '.join(cameras)}" if cameras else "no cameras found (no /dev/video* devices)"
    return (
        f"{found}. --camera N opens /dev/videoN (OpenCV numbering; on a Jetson the CSI camera is "
        "--source csi://0). Without a camera try --source synthetic:// or a video file."
    )


def open_camera(index: int, **options) -> Capture:
    import cv2

    device = f"/dev/video{index}"
    if sys.platform.startswith("linux") and not os.path.exists(device):
        raise AppsError(f"camera {index} ({device}) does not exist", hint=_camera_hint())
    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY

    def failure() -> AppsError:
        return AppsError(
            f"camera {device} exists but could not be opened (busy, or no permission?)",
            hint="close other programs using it; add yourself to the 'video' group. " + _camera_hint(),
        )

    return OpenCVCapture(index, api, live=True, description=device, failure=failure, **_size_options(options))


def _size_options(options: dict) -> dict:
    return {key: options[key] for key in ("width", "height", "fps") if options.get(key)}


def _open_v4l2(uri: str, **options) -> Capture:
    rest = uri.split("://", 1)[1].split("?")[0]
    number = rest.replace("/dev/video", "").strip("/")
    if not number.isdigit():
        raise AppsError(
            f"cannot read a camera number from '{uri}'", hint="use v4l2://0 or v4l2:///dev/video0"
        )
    return open_camera(int(number), **options)


def gstreamer_available() -> bool:
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def csi_pipeline(sensor: int, width: int = 1280, height: int = 720, fps: int = 30, flip: int = 0) -> str:
    """The GStreamer pipeline for a Jetson CSI camera (nvarguscamerasrc), ending in a BGR appsink that
    keeps only the newest buffer."""
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={fps}/1, format=NV12 ! nvvidconv flip-method={flip} ! video/x-raw, format=BGRx ! "
        "videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def _require_gstreamer(what: str) -> None:
    if not gstreamer_available():
        raise AppsError(
            f"{what} needs OpenCV built with GStreamer, and this OpenCV has none (pip's opencv wheels lack it)",
            hint="on a Jetson use JetPack's OpenCV: create the venv with --system-site-packages and "
            "'pip uninstall opencv-python opencv-python-headless'; or use --camera N for a USB camera",
        )


def _open_csi(uri: str, **options) -> Capture:
    import cv2

    number = uri.split("://", 1)[1].split("?")[0].strip("/") or "0"
    if not number.isdigit():
        raise AppsError(f"cannot read a sensor number from '{uri}'", hint="use csi://0")
    _require_gstreamer("csi://")
    pipeline = csi_pipeline(
        int(number),
        int(options.get("width") or 1280),
        int(options.get("height") or 720),
        int(options.get("fps") or 30),
        int(options.get("flip") or 0),
    )
    return OpenCVCapture(
        pipeline,
        cv2.CAP_GSTREAMER,
        live=True,
        description=f"csi://{number}",
        failure=lambda: AppsError(
            f"the CSI camera {number} did not start (nvarguscamerasrc)",
            hint="is the ribbon cable seated and nvargus-daemon running? "
            "'sudo systemctl restart nvargus-daemon' often helps",
        ),
    )


def _open_gstreamer(uri: str, **options) -> Capture:
    import cv2

    _require_gstreamer("gst://")
    pipeline = uri.split("://", 1)[1]
    return OpenCVCapture(
        pipeline,
        cv2.CAP_GSTREAMER,
        live=True,
        description="gstreamer pipeline",
        failure=lambda: AppsError(f"the GStreamer pipeline did not start: {pipeline}"),
    )


def _open_stream(uri: str, **options) -> Capture:
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    timeout_ms = int(float(options.get("timeout", 5)) * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    safe = urlsplit(uri)._replace(netloc=urlsplit(uri).hostname or "").geturl()  # no password in messages
    return OpenCVCapture(
        uri,
        cv2.CAP_FFMPEG,
        live=True,
        description=safe,
        params=params,
        failure=lambda: AppsError(
            f"cannot open the stream {safe}",
            hint="check the address, the network and that the stream runs (try it with ffplay or VLC)",
        ),
    )


def _open_path(uri: str, **options) -> Capture:
    import cv2

    text = uri[len("file://") :] if uri.startswith("file://") else uri
    path = Path(text).expanduser()
    if not path.exists():
        matches = sorted(glob.glob(str(path))) if any(c in text for c in "*?[") else []
        images = [Path(m) for m in matches if Path(m).suffix.lower() in IMAGE_SUFFIXES]
        if images:
            return ImageFilesCapture(images, text)
        raise AppsError(
            f"no such file or folder: {path}",
            hint="give a video file, an image, a folder of images, "
            "a glob like 'shots/*.jpg', a camera (--camera 0) or synthetic://",
        )
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise AppsError(
                f"folder {path} holds no images", hint=f"image types read: {' '.join(IMAGE_SUFFIXES)}"
            )
        return ImageFilesCapture(images, str(path))
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFilesCapture([path], str(path))
    return OpenCVCapture(
        str(path),
        cv2.CAP_ANY,
        live=False,
        description=str(path),
        # one decoder thread: FFmpeg's default frame threads only preempt the model's threads, which on
        # 2 cores costs them twice (the other waits at a barrier); one thread also uses less CPU per frame
        params=[cv2.CAP_PROP_N_THREADS, 1] if hasattr(cv2, "CAP_PROP_N_THREADS") else None,
        failure=lambda: AppsError(
            f"cannot decode {path} as a video", hint="OpenCV's FFmpeg reads mp4, avi, mkv, mov, webm ..."
        ),
    )


def _open_synthetic(uri: str, **options) -> Capture:
    from core.media.synthetic import SyntheticCapture

    return SyntheticCapture(**{k: v for k, v in options.items() if k in SyntheticCapture.OPTIONS})


# scheme -> (opener(uri, **options) -> Capture | FrameSource, description)
BUILTIN_SCHEMES: dict[str, tuple[Callable, str]] = {
    "synthetic": (
        _open_synthetic,
        "a generated test clip: digits and shapes on paper (synthetic://?frames=300)",
    ),
    "file": (
        _open_path,
        "a video file, an image, a folder of images or a glob (file:///path or a bare path)",
    ),
    "v4l2": (_open_v4l2, "a V4L2 camera: v4l2://0 or v4l2:///dev/video0 (same as --camera 0)"),
    "csi": (_open_csi, "a Jetson CSI camera through GStreamer nvarguscamerasrc: csi://0"),
    "gst": (_open_gstreamer, "a raw GStreamer pipeline ending in appsink: gst://videotestsrc ! appsink"),
    "rtsp": (_open_stream, "an RTSP stream (IP camera): rtsp://user:pass@host:554/stream"),
    "rtsps": (_open_stream, "an RTSP stream over TLS"),
    "http": (_open_stream, "an HTTP video stream (MJPEG, HLS ...)"),
    "https": (_open_stream, "an HTTPS video stream"),
}


def _plugin_schemes() -> dict[str, tuple[Callable, str]]:
    try:
        from core.plugins import get_manager

        registry = get_manager().registry("register_sources")
    except Exception:  # media must work even where the plugin system cannot load
        return {}
    return {entry.key: (entry.value["opener"], entry.value.get("description", "")) for entry in registry}


def known_schemes() -> dict[str, str]:
    """Every URI scheme open_source accepts -> its description (plugins' ones replace built-ins)."""
    schemes = {name: description for name, (_, description) in BUILTIN_SCHEMES.items()}
    schemes.update({name: description for name, (_, description) in _plugin_schemes().items()})
    return dict(sorted(schemes.items()))


def _parse_value(text: str):
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def open_source(uri: int | str, start: bool = True, **options) -> FrameSource:
    """Open a frame source: a camera index (``0`` = /dev/video0), ``/dev/videoN`` or a URI.

    ``options`` (also accepted as a URI query, ``synthetic://?frames=50&width=320``): ``width``,
    ``height``, ``fps`` (capture settings), ``loop``, ``latest``, ``reconnect``, ``max_backoff``,
    ``preprocess``, ``max_frames`` (see :class:`FrameSource`), and any option of the scheme's opener.
    The capture is opened before this returns (``start=False`` defers it), so a bad source fails here.
    """
    text = str(uri).strip()
    options = {key: value for key, value in options.items() if value is not None}
    if "://" in text and "?" in text.split("://", 1)[1] and not text.startswith(("rtsp", "http", "gst")):
        text, query = text.split("?", 1)
        options = {**{k: _parse_value(v) for k, v in parse_qsl(query)}, **options}
    source_keys = ("latest", "loop", "reconnect", "max_backoff", "preprocess", "max_frames")
    source_options = {key: options.pop(key) for key in source_keys if key in options}
    if text.isdigit():
        capture = open_camera(int(text), **options)
    elif text.startswith("/dev/video"):
        number = text[len("/dev/video") :]
        if not number.isdigit():
            raise AppsError(f"'{text}' is not a camera device", hint=_camera_hint())
        capture = open_camera(int(number), **options)
    elif "://" in text:
        scheme = text.split("://", 1)[0].lower()
        openers = {name: opener for name, (opener, _) in BUILTIN_SCHEMES.items()}
        openers.update({name: opener for name, (opener, _) in _plugin_schemes().items()})
        if scheme not in openers:
            raise AppsError(
                f"unsupported source scheme '{scheme}://'",
                hint=f"known schemes: {', '.join(s + '://' for s in known_schemes())}; also a file path, a folder, "
                "a camera number or /dev/videoN. Plugins add schemes with the register_sources hook.",
            )
        capture = openers[scheme](text, **options)
    else:
        capture = _open_path(text, **options)
    if isinstance(capture, FrameSource):
        source = capture
        for key, value in source_options.items():
            setattr(source, key, value)
    else:
        source = FrameSource(capture, uri=text, **source_options)
    return source.start() if start else source
