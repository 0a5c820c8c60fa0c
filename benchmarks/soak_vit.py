"""Stability soak of the live pipeline: a looping 640x480 video file source whose "camera" drops out every
N frames, through preprocess -> model -> overlay -> video file sink, for many frames. Checks: no crash,
one reconnect per dropout, resident memory growth below a limit.

    python benchmarks/soak_vit.py                          # the goal: 100,000 frames, dropout every 10,000
    python benchmarks/soak_vit.py --frames 3000 --dropout-every 1000 --model RUN_DIR

Without --model a tiny random ViT is used (this measures the pipeline, not the model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--dropout-every", type=int, default=10_000)
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=None, help="Model workers (default: apps run vit's)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument(
        "--output", default=None, help="Annotated video (default: a temporary file, rewritten)"
    )
    args = parser.parse_args()

    import psutil

    from core.media import FrameSource
    from core.media.overlay import FpsMeter, draw_stats, draw_top_k
    from core.media.sinks import SinkWorker, VideoFileSink
    from core.media.sources import OpenCVCapture
    from core.media.workers import ModelWorkers
    from plugins.vit.bench import make_video
    from plugins.vit.model import TimmClassifier, load_classifier
    from plugins.vit.runner import plan_workers

    tmp = Path(tempfile.mkdtemp(prefix="soak-vit-"))
    if args.model is None:
        labels = [str(i) for i in range(10)]
        TimmClassifier(
            "vit_tiny_patch16_224",
            labels,
            {"img_size": 32, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 2},
        ).save_pretrained(tmp / "model")
        args.model = str(tmp / "model")
    classifier = load_classifier(args.model, "cpu", "fp32")
    video = make_video(tmp / "loop.mp4", 300)

    class DroppingFile(OpenCVCapture):
        """A looping file that 'loses the camera' every N frames (read fails, next open fails once)."""

        def __init__(self):
            super().__init__(str(video), live=True, description="soak camera")
            self.total = 0
            self.fail_next_open = False

        def open(self):
            if self.fail_next_open:
                self.fail_next_open = False
                raise OSError("camera unplugged")
            super().open()

        def read(self):
            self.total += 1
            if self.total % args.dropout_every == 0:
                self.fail_next_open = True
                return None
            image = super().read()
            if image is None:  # end of the file: rewind (a camera never ends)
                super().close()
                super().open()
                image = super().read()
            return image

    capture = DroppingFile()
    source = FrameSource(capture, max_backoff=0.5, preprocess=classifier.preprocess, latest=False)
    sink = VideoFileSink(args.output or tmp / "annotated.mp4", fps=30)

    def render(item):
        image, top, fps = item
        draw_top_k(image, top)
        draw_stats(image, fps)
        return image

    worker = SinkWorker([sink], render, drop=False)
    process = psutil.Process()
    meter, frames, rss = FpsMeter(), 0, []
    start = time.time()
    source.start()
    workers, threads = plan_workers(args.workers, classifier, attention=False)
    restore_threads = classifier.use_threads(threads)
    pool = ModelWorkers(source, lambda frame: classifier.classify(frame.data[None])[0], workers)
    try:
        while frames < args.frames:
            result = pool.get(timeout=1.0)
            if result is None:
                if pool.finished:
                    break
                continue
            frame, probs, _ = result
            worker.submit((frame.image, classifier.top_k(probs, 3)[0], meter.tick()))
            frames += 1
            if frames == min(500, args.frames // 10) or frames % 5000 == 0:
                rss.append(process.memory_info().rss / 2**20)
            if frames % 5000 == 0:
                print(
                    f"{frames} frames, {meter.value:.1f} FPS, reconnects {source.reconnects}, rss {rss[-1]:.0f} MB",
                    flush=True,
                )
    finally:
        pool.close()
        source.close()
        worker.close()
        restore_threads()
    rss.append(process.memory_info().rss / 2**20)
    expected = capture.total // args.dropout_every
    report = {
        "frames": frames,
        "workers": workers,
        "seconds": round(time.time() - start, 1),
        "fps": round(frames / (time.time() - start), 1),
        "dropouts": expected,
        "reconnects": source.reconnects,
        "rss_first_mb": round(rss[0], 1),
        "rss_last_mb": round(rss[-1], 1),
        "rss_growth_mb": round(rss[-1] - rss[0], 1),
        "error": source.error,
    }
    ok = (
        frames == args.frames
        and source.reconnects >= expected
        and report["rss_growth_mb"] < args.max_growth_mb
    )
    report["ok"] = bool(ok)
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
