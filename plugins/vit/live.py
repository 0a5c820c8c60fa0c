"""The live loop behind ``apps run vit``: source -> (capture thread: preprocess) -> model workers -> (sink
thread: overlay, encode, write) -> window / file / MJPEG stream, plus JSON lines and ``on_result`` events.

Threads so that the model never waits for the camera or for video encoding: the capture thread reads and
preprocesses (OpenCV/numpy), model workers classify (two on a CPU, see core.media.workers), the main
thread hands results on in frame order, the sink thread draws and writes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque

import click

from core import (
    AppsError,
    FpsMeter,
    ModelWorkers,
    SinkWorker,
    WindowSink,
    cpu_threads,
    draw_banner,
    draw_crop_box,
    draw_heatmap,
    draw_stats,
    draw_top_k,
    has_display,
    list_cameras,
    open_sink,
    open_source,
)

FALLBACK_CLIP_FRAMES = 14 * 45  # each of the 14 digits and shapes of synthetic:// once


def choose_source(source: str | None, camera: int | None) -> str:
    """--source wins, then --camera; with neither: camera 0 when it exists, else the synthetic clip."""
    if source and camera is not None:
        raise AppsError("give either --source or --camera, not both")
    if source:
        return source
    if camera is not None:
        return str(camera)
    if "/dev/video0" in list_cameras():
        return "0"
    click.echo(
        "no camera found (/dev/video0): showing the synthetic test clip (every digit and shape once)",
        err=True,
    )
    return f"synthetic://?frames={FALLBACK_CLIP_FRAMES}"


NOTHING = "nothing recognised"  # what the screen says for `none`, or below the live threshold


class LabelSmoother:
    """A steady label for the live view: the mean of the last ``window`` frames' probabilities, and a shown
    class that changes only when another one leads that mean by ``margin`` (no flicker between two close
    classes). ``none``, or a mean below ``threshold`` (live view only; ``apps eval`` has none), is shown as
    "nothing recognised"."""

    def __init__(self, labels: list[str], window: int = 8, threshold: float = 0.0, margin: float = 0.1):
        if window < 1:
            raise AppsError(f"--smooth must be at least 1 frame, not {window}")
        if not 0 <= threshold < 1:
            raise AppsError(f"--threshold must be in [0, 1), not {threshold}")
        self.labels, self.threshold = labels, threshold
        self.margin = margin if window > 1 else 0.0
        self.history: deque = deque(maxlen=window)
        self.current: int | None = None

    def update(self, probs, k: int = 3) -> tuple[dict, list[dict]]:
        """One frame's probabilities in; the shown label and the top-k to draw (smoothed) out."""
        import numpy as np

        self.history.append(np.asarray(probs, dtype=np.float32))
        mean = np.mean(self.history, axis=0)
        best = int(np.argmax(mean))
        if self.current is None or mean[best] > mean[self.current] + self.margin:
            self.current = best
        score = float(mean[self.current])
        label = self.labels[self.current] if self.current < len(self.labels) else str(self.current)
        nothing = label == "none" or score < self.threshold
        shown = {"label": NOTHING if nothing else label, "index": self.current, "score": round(score, 4)}
        others = [int(i) for i in np.argsort(-mean) if int(i) != self.current][: max(0, k - 1)]
        top = [dict(shown)] + [
            {"label": NOTHING if self.labels[i] == "none" else self.labels[i], "index": i,
             "score": round(float(mean[i]), 4)}
            for i in others
        ]  # fmt: skip
        return shown, top


def why_headless() -> str:
    """Why no window opens although --headless was not given: no display, or an OpenCV without a GUI."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith(
        "linux"
    ):
        return "no display (DISPLAY is not set)"
    return (
        "this OpenCV has no GUI (opencv-python-headless?); for a window: pip uninstall -y "
        "opencv-python-headless && pip install --force-reinstall opencv-python"
    )


class Renderer:
    """Draws one result into its frame (runs in the sink thread)."""

    def __init__(self, crop_pct: float, model_name: str):
        self.crop_pct, self.model_name = crop_pct, model_name

    def __call__(self, item) -> object:
        image, top, heat, fps, model_fps, banner = item
        if heat is not None:
            draw_heatmap(image, heat, self.crop_pct)
        else:
            draw_crop_box(image, self.crop_pct)
        if top:
            draw_top_k(image, top)
        draw_stats(image, fps, model_fps)
        if banner:
            draw_banner(image, banner)
        return image


def run_live(
    app,
    camera=None,
    source=None,
    loop=False,
    width=None,
    height=None,
    model=None,
    backend="auto",
    device="auto",
    precision="auto",
    top_k=3,
    attention=False,
    output=(),
    headless=False,
    fullscreen=False,
    max_frames=None,
    workers=None,
    smooth=8,
    threshold=0.0,
    as_json=False,
    quiet=False,
    **_ignored,
) -> dict:
    from plugins.vit.model import load_classifier

    say = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    if quiet:
        say = lambda text: None  # noqa: E731
    classifier = load_classifier(model, device, precision, backend)
    import cv2

    # The model owns the cores; capture and sink already run in threads of their own. OpenCV's own worker
    # threads would only preempt the model's.
    cv2.setNumThreads(1)
    if attention and not classifier.supports_attention:
        raise AppsError(
            "--attention needs a PyTorch ViT (timm, Hugging Face or a run directory)",
            hint="ONNX models give labels only: drop --attention or use --backend torch",
        )
    smoother = LabelSmoother(classifier.labels, smooth, threshold)
    workers, threads = plan_workers(workers, classifier, attention)
    uri = choose_source(source, camera)
    stream = open_source(uri, preprocess=classifier.preprocess, loop=loop, width=width, height=height)
    window = None
    if not headless and has_display():
        window = WindowSink(f"apps run vit - {classifier.name}", fullscreen)
        say(f"window: on display {os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY') or 'the screen'}"
            + (", full screen" if fullscreen else "") + " (ESC or q quits)")  # fmt: skip
    elif not headless:
        say(f"{why_headless()}: running headless" + (" (--fullscreen ignored)" if fullscreen else ""))
    sinks = []
    try:
        sinks = [open_sink(target, fps=stream.fps or 30) for target in output]
    except Exception:
        stream.close()
        raise
    for sink in sinks:
        say(f"output: {sink.description}")
    worker = (
        SinkWorker(sinks, Renderer(classifier.crop_pct, classifier.name), drop=stream.latest)
        if sinks or window
        else None
    )
    say(
        f"vit: {classifier.name} ({classifier.backend}, {classifier.device}, {classifier.dtype}) on {stream.description}"
        + (f", {workers} model workers x {threads} threads" if workers > 1 else "")
        + ("" if window else " (headless)")
    )
    restore_threads = classifier.use_threads(threads) if threads is not None else (lambda: None)
    pool = ModelWorkers(stream, lambda frame: classifier.classify(frame.data[None], attention), workers)

    fps_meter, model_rate = FpsMeter(), ModelRate(workers)
    frames, first_done, last_done, last_print = 0, None, None, 0.0
    last_image, banner_time = None, 0.0
    try:
        while max_frames is None or frames < max_frames:
            result = pool.get(timeout=0.2)
            if result is None:
                if pool.finished:
                    break
                if (
                    stream.status == "reconnecting"
                    and last_image is not None
                    and time.monotonic() - banner_time > 0.5
                ):
                    banner_time = time.monotonic()
                    text = f"{stream.description} lost - reconnecting"
                    if worker:
                        worker.submit((last_image.copy(), None, None, 0.0, None, text))
                    say(f"{text} ({stream.error})")
                if window is not None and worker and worker.latest is not None:
                    window.write(worker.latest)
                    if window.closed:
                        break
                continue
            frame, (probs, heat), seconds = result
            model_rate.add(seconds)
            top = classifier.top_k(probs, top_k)[0]
            shown, smoothed_top = smoother.update(probs[0], top_k)
            fps = fps_meter.tick()
            model_fps = model_rate.recent()
            result = {
                "frame": frames,
                "index": frame.index,
                "time": round(frame.time, 3),
                "top": top,
                "shown": shown,
                "model_ms": round(seconds * 1000, 2),
            }
            if "label" in frame.meta:
                result["truth"] = frame.meta["label"]
            app.emit(result, source=uri, frame=frame.index, model=classifier.name)
            if as_json:
                click.echo(json.dumps(result))
            elif window is None and time.monotonic() - last_print > 1.0:
                last_print = time.monotonic()
                say(
                    f"frame {frames:6d}  {fps:5.1f} FPS  model {model_fps:5.1f} FPS  {shown['label']} {shown['score']:.2f}"
                )
            last_image = frame.image
            if worker:
                worker.submit(
                    (frame.image, smoothed_top, heat[0] if heat is not None else None, fps, model_fps, None)
                )
                if window is not None and worker.latest is not None:
                    window.write(worker.latest)
                    if window.closed:
                        break
            frames += 1
            last_done = time.perf_counter()
            first_done = first_done or last_done
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        pool.close()
        stream.close()
        restore_threads()
        if worker:
            worker.close()
        if window is not None:
            window.close()
    if frames > 1:
        last_done = time.perf_counter()  # the end includes the sinks' last writes
    if frames == 0 and stream.error:
        raise AppsError(f"no frame came from {stream.description}: {stream.error}")
    elapsed = (last_done - first_done) if frames > 1 else None
    summary = {
        "summary": True,
        "frames": frames,
        "fps": round((frames - 1) / elapsed, 2) if elapsed else None,
        "model_fps": round(model_rate.overall(), 2),
        "workers": workers,
        "dropped": stream.dropped,
        "reconnects": stream.reconnects,
        "source": stream.description,
        **classifier.describe(),
        "outputs": [sink.description for sink in sinks],
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        say(
            f"{frames} frames, {summary['fps'] or 0:.1f} FPS end-to-end, model {summary['model_fps']:.1f} FPS, "
            f"{stream.dropped} dropped, {stream.reconnects} reconnects"
        )
    sys.stdout.flush()
    return summary


def plan_workers(requested: int | None, classifier, attention: bool) -> tuple[int, int | None]:
    """(model workers, threads per call). By default two workers share a CPU's threads; one on a GPU, and
    one with --attention (its hooks keep state per call). Threads: None leaves a GPU runtime as it is,
    0 keeps the runtime's own count for a single CPU worker."""
    on_gpu = "cuda" in str(classifier.device).lower() or "tensorrt" in str(classifier.device).lower()
    if requested is None:
        requested = 1 if on_gpu or attention or cpu_threads() < 2 else 2
    if requested < 1:
        raise AppsError(f"--workers must be 1 or more, not {requested}")
    if requested > 1 and attention:
        raise AppsError("--attention runs one model worker", hint="drop --workers or use --workers 1")
    if on_gpu:
        return requested, None
    return requested, (0 if requested == 1 else max(1, cpu_threads() // requested))


class ModelRate:
    """Model-only frames per second of ``workers`` concurrent workers, over the last 30 calls and over the
    whole run, in constant memory (a booth runs all day). The first call (warm-up) is left out once there
    are others."""

    def __init__(self, workers: int = 1):
        self.workers, self.first = workers, None
        self.count, self.total, self.last = 0, 0.0, deque(maxlen=30)

    def add(self, seconds: float) -> None:
        if self.first is None:
            self.first = seconds
            return
        self.count, self.total = self.count + 1, self.total + seconds
        self.last.append(seconds)

    def _rate(self, count: int, total: float) -> float:
        if count == 0 and self.first is not None:
            count, total = 1, self.first
        return self.workers * count / total if total > 0 else 0.0

    def recent(self) -> float:
        return self._rate(len(self.last), sum(self.last))

    def overall(self) -> float:
        return self._rate(self.count, self.total)
