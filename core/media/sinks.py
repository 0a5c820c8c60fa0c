"""Frame sinks: an OpenCV window, a video file, image files, and an MJPEG stream over HTTP.

    sink = open_sink("out.mp4", fps=30)          # annotated video
    sink = open_sink("http://0.0.0.0:8090")      # a browser shows http://HOST:8090/
    sink = open_sink("display")                  # a window (ESC or q closes it: sink.closed)
    sink.write(bgr_image); sink.close()

:class:`SinkWorker` runs rendering and the slow sinks (encoding, network) in their own thread so that the
model never waits for them.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from core.errors import AppsError

VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class Sink:
    """Where annotated frames go. ``closed`` becomes True when the user asked to stop (window closed)."""

    description = "sink"
    closed = False
    interactive = False  # must be written from the main thread (GUI windows)

    def write(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def has_display() -> bool:
    """Whether a window can be shown: a display server is set and this OpenCV has a GUI backend."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return "NONE" not in line.upper()
    return False


class WindowSink(Sink):
    interactive = True

    def __init__(self, title: str = "transformer-apps", fullscreen: bool = False):
        import cv2

        if not has_display():
            raise AppsError(
                "no display to show a window on (DISPLAY is not set, or OpenCV has no GUI)",
                hint="use --headless, --output FILE.mp4 or --output http://0.0.0.0:8090; "
                "for a window install opencv-python instead of opencv-python-headless",
            )
        self.title, self.description = title, "window"
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def write(self, image: np.ndarray) -> None:
        import cv2

        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (27, ord("q"), ord("Q")):
            self.closed = True
        elif cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True

    def close(self) -> None:
        import cv2

        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


class VideoFileSink(Sink):
    """Writes an annotated video; the size is taken from the first frame (later frames are fitted)."""

    def __init__(self, path: str | Path, fps: float = 30.0):
        self.path = Path(path)
        self.fps = float(fps or 30.0)
        self.fourcc = VIDEO_SUFFIXES[self.path.suffix.lower()]
        self.description = str(self.path)
        self.writer = None
        self.size: tuple[int, int] | None = None
        self.frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            self.writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self.size
            )
            if not self.writer.isOpened():
                raise AppsError(
                    f"cannot write the video {self.path}", hint="try another suffix: .mp4, .avi or .mkv"
                )
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class ImageFileSink(Sink):
    """``frame.jpg``: rewritten with each frame (the latest stays); ``folder/``: one numbered file each."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.folder = self.path.suffix.lower() not in IMAGE_SUFFIXES
        (self.path if self.folder else self.path.parent).mkdir(parents=True, exist_ok=True)
        self.description = str(self.path)
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        import cv2

        target = self.path / f"frame_{self.frames:06d}.jpg" if self.folder else self.path
        if not cv2.imwrite(str(target), image):
            raise AppsError(f"cannot write {target}")
        self.frames += 1


class MjpegServerSink(Sink):
    """Serves the frames as an MJPEG stream: ``/`` is a page showing it, ``/stream`` the stream itself,
    ``/snapshot.jpg`` the latest frame. JPEG encoding happens only while someone watches."""

    def __init__(
        self, host: str = "0.0.0.0", port: int = 8090, quality: int = 80, title: str = "transformer-apps"
    ):
        self.quality, self.title = int(quality), title
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._image: np.ndarray | None = None
        self._serial = 0
        self.clients = 0
        self.closed = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                if path in ("/", "/index.html"):
                    page = (
                        f"<!doctype html><title>{sink.title}</title><body style='margin:0;background:#111'>"
                        "<img src='/stream' style='width:100vw;height:100vh;object-fit:contain'></body>"
                    )
                    self._reply(page.encode(), "text/html; charset=utf-8")
                elif path == "/snapshot.jpg":
                    jpeg = sink._snapshot()
                    if jpeg is None:
                        self.send_error(503, "no frame yet")
                    else:
                        self._reply(jpeg, "image/jpeg")
                elif path == "/stream":
                    sink._stream(self)
                else:
                    self.send_error(404)

            def _reply(self, body: bytes, kind: str):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        try:
            self.server = ThreadingHTTPServer((host, int(port)), Handler)
        except OSError as exc:
            raise AppsError(
                f"cannot serve the MJPEG stream on {host}:{port}: {exc.strerror or exc}",
                hint="choose another port: --output http://0.0.0.0:8091",
            ) from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        shown = "localhost" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{self.port}/"
        self.description = f"MJPEG stream {self.url}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="mjpeg server", daemon=True)
        self._thread.start()

    def _encode(self, image: np.ndarray) -> bytes:
        import cv2

        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return data.tobytes()

    def write(self, image: np.ndarray) -> None:
        jpeg = self._encode(image) if self.clients else None
        with self._cond:
            self._image, self._jpeg = image, jpeg
            self._serial += 1
            self._cond.notify_all()

    def _snapshot(self) -> bytes | None:
        with self._cond:
            image, jpeg = self._image, self._jpeg
        if jpeg is None and image is not None:
            jpeg = self._encode(image)
        return jpeg

    def _stream(self, handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        with self._cond:
            self.clients += 1
        seen = -1
        try:
            while not self.closed:
                with self._cond:
                    last = seen
                    self._cond.wait_for(lambda last=last: self._serial != last or self.closed, timeout=1.0)
                    serial = self._serial
                if serial == seen:
                    continue
                seen = serial
                jpeg = self._snapshot()
                if jpeg is None:
                    continue
                handler.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpeg)).encode()
                    + b"\r\n\r\n"
                    + jpeg
                    + b"\r\n"
                )
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the browser went away
        finally:
            with self._cond:
                self.clients -= 1

    def close(self) -> None:
        self.closed = True
        with self._cond:
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


def open_sink(
    target: str, fps: float = 30.0, fullscreen: bool = False, title: str = "transformer-apps"
) -> Sink:
    """``display``/``window`` -> window; ``http://HOST:PORT`` -> MJPEG server; ``*.mp4|.avi|.mkv|.mov`` ->
    video file; ``*.jpg|.png`` -> image file (rewritten); a folder (ending in /) -> numbered images."""
    text = str(target)
    if text in ("display", "window") or text.startswith("display://"):
        return WindowSink(title, fullscreen)
    if text.startswith("http://"):
        parts = urlsplit(text)
        return MjpegServerSink(parts.hostname or "0.0.0.0", parts.port or 8090, title=title)
    if "://" in text and not text.startswith("file://"):
        raise AppsError(
            f"unsupported output '{text}'",
            hint="use a video file (.mp4 .avi .mkv .mov), an image (.jpg .png), a folder/, "
            "http://HOST:PORT (MJPEG stream) or display",
        )
    path = Path(text[len("file://") :] if text.startswith("file://") else text).expanduser()
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSink(path, fps)
    if suffix in IMAGE_SUFFIXES or text.endswith("/") or path.is_dir():
        return ImageFileSink(path)
    raise AppsError(
        f"cannot tell what kind of output '{text}' is",
        hint="use .mp4/.avi/.mkv/.mov for video, .jpg/.png for an image, a trailing / for a folder, "
        "or http://HOST:PORT for an MJPEG stream",
    )


class SinkWorker:
    """Renders results and writes the non-interactive sinks in a background thread.

    ``submit(item)`` hands one item (e.g. a frame and its result) to ``render(item) -> image``; the image
    goes to every sink. When the worker falls behind, ``drop`` (live sources) replaces the waiting item,
    otherwise ``submit`` waits (files: every frame is written). ``latest`` is the newest rendered image,
    for an interactive window that the main thread shows.
    """

    def __init__(self, sinks: list[Sink], render: Callable, drop: bool = False, depth: int = 4):
        self.sinks, self.render, self.drop = sinks, render, drop
        self.queue: queue.Queue = queue.Queue(maxsize=1 if drop else depth)
        self.latest: np.ndarray | None = None
        self.error: BaseException | None = None
        self.written = self.dropped = 0
        self._thread = threading.Thread(target=self._work, name="sinks", daemon=True)
        self._thread.start()

    def submit(self, item) -> None:
        if self.error is not None:
            raise self.error
        if self.drop:
            try:
                self.queue.put_nowait(item)
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
                self.queue.put_nowait(item)
        else:
            self.queue.put(item)

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                image = self.render(item)
                self.latest = image
                for sink in self.sinks:
                    sink.write(image)
                self.written += 1
            except BaseException as exc:  # reported to the main thread at its next submit/close
                self.error = exc
                return

    def close(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                self.queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join(max(0.0, deadline - time.monotonic()))
        for sink in self.sinks:
            sink.close()
        if self.error is not None:
            raise self.error
