"""Stability soak of the live pipeline: a looping 640x480 video file source whose "camera" drops out every
N frames, through ``apps run vit``'s own loop (``run_live``: preprocess -> model workers -> overlay -> video
file sink), for many frames. Checks: no crash, one reconnect per dropout, resident memory growth below a
limit.

    python benchmarks/soak_vit.py                          # the goal: 100,000 frames, dropout every 10,000
    python benchmarks/soak_vit.py --frames 3000 --dropout-every 1000 --model RUN_DIR

The dropping camera is a ``soak://`` source scheme and the memory probe an ``on_result`` hook, both added
through the public plugin hooks, as a third-party plugin would. Without --model a tiny random ViT is used
(this measures the pipeline, not the model).
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

    from core import FrameSource, OpenCVCapture, get_manager, hookimpl
    from plugins.vit.app import VitApp
    from plugins.vit.bench import make_video
    from plugins.vit.live import run_live
    from plugins.vit.model import TimmClassifier

    tmp = Path(tempfile.mkdtemp(prefix="soak-vit-"))
    if args.model is None:
        labels = [str(i) for i in range(10)]
        TimmClassifier(
            "vit_tiny_patch16_224",
            labels,
            {"img_size": 32, "patch_size": 8, "embed_dim": 64, "depth": 2, "num_heads": 2},
        ).save_pretrained(tmp / "model")
        args.model = str(tmp / "model")
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
    process = psutil.Process()
    rss: list[float] = []
    start = time.time()

    class SoakPlugin:
        @hookimpl
        def register_sources(self, register):
            # every frame is classified (latest=False), so the frame count is the camera's count
            register(
                scheme="soak",
                opener=lambda uri, **_: FrameSource(capture, uri=uri, latest=False, max_backoff=0.5),
                description="the soak's dropping camera",
            )

        @hookimpl
        def on_result(self, result):
            frames = result["frame"] + 1
            if frames == min(500, args.frames // 10) or frames % 5000 == 0:
                rss.append(process.memory_info().rss / 2**20)
            if frames % 5000 == 0:
                seconds = time.time() - start
                print(f"{frames} frames, {frames / seconds:.1f} FPS, rss {rss[-1]:.0f} MB", flush=True)

    get_manager().add_plugin(SoakPlugin(), name="soak")
    summary = run_live(
        VitApp(),
        source="soak://camera",
        model=args.model,
        device="cpu",
        precision="fp32",
        output=[args.output or str(tmp / "annotated.mp4")],
        headless=True,
        max_frames=args.frames,
        workers=args.workers,
        quiet=True,
    )
    rss.append(process.memory_info().rss / 2**20)
    expected = capture.total // args.dropout_every
    report = {
        "frames": summary["frames"],
        "workers": summary["workers"],
        "seconds": round(time.time() - start, 1),
        "fps": summary["fps"],
        "dropouts": expected,
        "reconnects": summary["reconnects"],
        "rss_first_mb": round(rss[0], 1),
        "rss_last_mb": round(rss[-1], 1),
        # the largest growth, in the run or after it (a run's end frees its threads and buffers)
        "rss_growth_mb": round(max(rss) - rss[0], 1),
    }
    ok = (
        summary["frames"] == args.frames
        and summary["reconnects"] >= expected
        and report["rss_growth_mb"] < args.max_growth_mb
    )
    report["ok"] = bool(ok)
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
