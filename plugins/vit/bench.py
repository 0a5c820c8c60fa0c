"""``apps bench vit``: frames/s of ``apps run vit``'s own loop (video file in and out) against its model alone
and against the loop a user writes first (``transformers.pipeline("image-classification")``), and the
model's FLOP/s against this machine's measured matmul peak, with the bounds each ratio can reach here.
Rows use core.bench's keys (value, peer_value, ratio); docs/vit.md explains each row."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import core
from core import VideoFileSink, cpu_has_bf16, open_source, resolve_device, resolve_dtype
from plugins.vit.live import Renderer, plan_workers, run_live

LAYOUTS = {
    # name: (timm architecture, transformers ViTConfig kwargs)
    "vit_tiny": (
        "vit_tiny_patch16_224",
        {"hidden_size": 192, "num_hidden_layers": 12, "num_attention_heads": 3, "intermediate_size": 768},
    ),
    "vit_base": (
        "vit_base_patch16_224",
        {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    ),
}


def make_video(path: Path, frames: int, width: int = 640, height: int = 480) -> Path:
    """A 640x480 clip (from synthetic://) to read back through the file source, like a recorded camera."""
    sink = VideoFileSink(path, fps=30)
    with open_source(f"synthetic://?frames={frames}&width={width}&height={height}&hold=10") as source:
        for frame in source:
            sink.write(frame.image)
    sink.close()
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    with open_source(str(path)) as source:
        return [frame.image for frame in source]


def model_gflops(module, image_size: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    weight = next(module.parameters())
    example = torch.zeros(1, 3, image_size, image_size, dtype=weight.dtype, device=weight.device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(example)
    return counter.get_total_flops() / 1e9


def _save_random_model(layout: str, folder: Path) -> Path:
    from plugins.vit.model import TimmClassifier

    architecture, _ = LAYOUTS[layout]
    model = TimmClassifier(architecture, [f"class {i}" for i in range(1000)])
    model.save_pretrained(folder)
    return folder


def pipeline_peer(layout: str, precision: str, device: str = "cpu"):
    """The loop a user writes first: frames -> PIL -> transformers pipeline('image-classification').
    Returns a function that times it over frames (frames/s)."""
    import torch
    from PIL import Image
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor, pipeline

    _, config_kwargs = LAYOUTS[layout]
    config = ViTConfig(image_size=224, patch_size=16, num_labels=1000, **config_kwargs)
    dtype = resolve_dtype(precision)
    model = ViTForImageClassification(config).to(device=device, dtype=dtype).eval()
    classify = pipeline(
        "image-classification",
        model=model,
        image_processor=ViTImageProcessor(),
        device=device,
        **({"dtype": dtype} if dtype != torch.float32 else {}),
    )

    def fps(frames: list[np.ndarray]) -> float:
        classify(Image.fromarray(frames[0][:, :, ::-1]))  # warm-up
        start = time.perf_counter()
        for image in frames[1:]:
            classify(Image.fromarray(image[:, :, ::-1]), top_k=3)
        return (len(frames) - 1) / (time.perf_counter() - start)

    return fps


def model_alone_fps(classifier, batch: list, workers: int = 1) -> float:
    """Frames per second of the model alone at batch 1 over preprocessed frames (after a warm-up call).
    With ``workers`` > 1, that many concurrent calls, each on its share of the threads, as ``apps run vit``
    runs them."""
    import threading

    _, threads = plan_workers(workers, classifier, attention=False)
    restore = classifier.use_threads(threads) if workers > 1 else (lambda: None)
    try:
        classifier.classify(batch[0])
        shares = [batch[1:][i::workers] for i in range(workers)]
        runs = [
            threading.Thread(target=lambda share=share: [classifier.classify(item) for item in share])
            for share in shares
        ]
        start = time.perf_counter()
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        return (len(batch) - 1) / (time.perf_counter() - start)
    finally:
        restore()


def side_work_cpu_ms(video: Path, classifier, output: Path) -> float:
    """CPU milliseconds per frame of the pipeline without its model: decode and preprocess (the capture
    thread), overlay and encode (the sink thread), with OpenCV on one thread as ``apps run vit`` sets it.
    Measured alone, before any model runs (idle runtime threads would count too)."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    render, sink = Renderer(classifier.crop_pct, classifier.name), VideoFileSink(output, fps=30)
    top = [{"label": "class 0", "score": 0.9}, {"label": "class 1", "score": 0.05}]
    start, frames = time.process_time(), 0
    try:
        with open_source(str(video), preprocess=classifier.preprocess, latest=False) as source:
            for frame in source:
                sink.write(render((frame.image, top, None, 30.0, 30.0, None)))
                frames += 1
        sink.close()
        return (time.process_time() - start) * 1000 / max(frames, 1)
    finally:
        cv2.setNumThreads(threads)


def batch_throughput(classifier, frames: list[np.ndarray], batch: int = 8, repeat: int = 3) -> float:
    """Frames/s of the model alone on batches of ``batch`` preprocessed frames (best of ``repeat``)."""
    pixels = np.stack([classifier.preprocess(image) for image in frames[:batch]])
    classifier.classify(pixels)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        classifier.classify(pixels)
        best = min(best, time.perf_counter() - start)
    return batch / best


def peak_row(label: str, gflops_per_s: float, precision: str, common: dict, **extra) -> dict:
    """A row of achieved model FLOP/s against this machine's measured matmul peak in that precision (its
    ``peer_value`` is filled in at the end of the benchmark, from every sample of the peak)."""
    return {
        "name": f"{label}: model FLOP/s vs matmul peak",
        "metric": "GFLOP/s",
        "value": round(gflops_per_s, 1),
        "unit": "GFLOP/s",
        "peer": f"measured {precision} matmul peak"
        + (" (onnxruntime MatMulInteger)" if precision == "int8" else ""),
        "better": "higher",
        **extra,
        **common,
    }


def median_run(runs: list[tuple], ratio) -> tuple:
    """The run whose ``ratio`` is the median. Each ratio is taken within one run of alternating
    measurements, never across runs: speed drifts between minutes on a shared machine."""
    return sorted(runs, key=ratio)[len(runs) // 2]


def _export_int8(folder: Path, output: Path) -> Path:
    """The int8 ONNX model of a saved layout (``apps export vit --int8``), its messages silenced."""
    import contextlib
    import io

    from plugins.vit.export import export

    with contextlib.redirect_stdout(io.StringIO()):
        export(model=str(folder), output=str(output), int8=True)
    return output / "model-int8.onnx"


def default_architectures_row(app, video: Path, tmp: Path, count: int, pairs: int) -> dict:
    """End-to-end frames/s of ``apps run vit`` with the offline default's architecture (recipe vit-camera)
    against the earlier one (vit-tiny-digits), random weights, alternately on the same clip."""
    import yaml

    from plugins.vit.model import TimmClassifier

    recipes = Path(__file__).parent / "recipes"
    folders = {}
    for name in ("vit-camera", "vit-tiny-digits"):
        recipe = yaml.safe_load((recipes / f"{name}.yaml").read_text())
        folders[name] = tmp / name
        labels = [str(i) for i in range(15 if name == "vit-camera" else 14)]
        TimmClassifier(recipe["model"], labels, recipe["model_args"]).save_pretrained(folders[name])
    runs = []
    for _ in range(pairs):
        fps = {}
        for name, folder in folders.items():
            summary = run_live(
                app, source=str(video), model=str(folder), output=[str(tmp / f"out-{name}.mp4")],
                headless=True, top_k=3, as_json=False, quiet=True,
            )  # fmt: skip
            fps[name] = summary["fps"] or 0.0
        runs.append((fps["vit-camera"], fps["vit-tiny-digits"]))
    new, old = median_run(runs, lambda run: run[0] / run[1])[:2]
    return {
        "name": "offline default: camera architecture (48x48, conv stem, 16x16 patches) vs the earlier (32x32, 16x16)",
        "metric": "FPS",
        "value": round(new, 2),
        "unit": "frames/s",
        "peer": "vit-tiny-digits architecture, end to end",
        "peer_value": round(old, 2),
        "better": "higher",
        "goal": ">= 0.9x (within 10%)",
        "pair_ratios": [round(a / b, 3) if b else None for a, b in runs],
        "frames": count,
    }


def benchmark(
    app=None,
    quick: bool = False,
    frames: int | None = None,
    layouts=None,
    precisions=None,
    device: str = "cpu",
    pairs: int = 3,
    **_ignored,
) -> list[dict]:
    """The rows (``app``: the vit app whose ``on_result`` events the live loop emits; default: a fresh
    one); ``pairs``: alternating (model alone, end to end, peer) runs per layout and precision."""
    import torch

    from plugins.vit.model import load_classifier

    app = app or core.get_manager().app("vit")
    count = frames or (20 if quick else 100)
    layouts = layouts or (["vit_tiny"] if quick else ["vit_tiny", "vit_base"])
    on_gpu = resolve_device(device).type == "cuda"
    device = "cuda" if on_gpu else "cpu"
    # bf16 only where this CPU runs it natively: emulated, a ViT-B frame takes minutes and says nothing.
    # int8 is onnxruntime's dynamic quantization (apps export vit --int8), the fastest CPU precision
    # where there is no native bf16; its pipeline peer is the fp32 pipeline.
    if not precisions:
        precisions = ["fp32", "fp16"] if on_gpu else ["fp32", "bf16" if cpu_has_bf16() else "int8"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = make_video(tmp / "clip.mp4", count + 1)
        clip = read_frames(video)
        # The peak is sampled before and after each layout and the best sample is used (one sample can
        # fall in a slow minute); the rows that depend on it are completed at the end.
        if not on_gpu:
            rows.append(default_architectures_row(app, video, tmp, count, pairs))
        peak_samples = {p: [core.measure_matmul_peak(p, device=device)] for p in precisions}
        by_peak = []  # (row, precision, the peak's divisor for peak_bound_ratio or None for a peak row)
        side_ms = None
        for layout in layouts:
            folder = _save_random_model(layout, tmp / layout)
            reference = load_classifier(str(folder), device, "fp32")
            if side_ms is None and not on_gpu:  # before the first forward pass
                side_ms = side_work_cpu_ms(video, reference, tmp / "side.mp4")
            gflops = model_gflops(reference.module, reference.image_size)  # the same count in every precision
            peers = {}
            for precision in precisions:
                model = str(folder)
                if precision == "int8":
                    model = str(_export_int8(folder, tmp / f"{layout}-onnx"))
                classifier = reference if precision == "fp32" else load_classifier(model, device, precision)
                workers, _ = plan_workers(None, classifier, attention=False)  # apps run vit's default
                batch = [classifier.preprocess(image)[None] for image in clip]
                peer_precision = "fp32" if precision == "int8" else precision
                if peer_precision not in peers:
                    peers[peer_precision] = pipeline_peer(layout, peer_precision, device)
                runs = []  # (end-to-end, model alone, pipeline peer, one call, workers), measured alternately
                for _ in range(pairs):
                    # model alone: the faster of one call on every thread and the pipeline's workers
                    alone = {n: model_alone_fps(classifier, batch, n) for n in sorted({1, workers})}
                    model_fps = max(alone.values())
                    summary = run_live(
                        app,
                        source=str(video),
                        model=model,
                        precision=precision,
                        device=device,
                        output=[str(tmp / f"out-{layout}-{precision}.mp4")],
                        headless=True,
                        top_k=3,
                        workers=workers,
                        as_json=False,
                        quiet=True,
                    )
                    peer = peers[peer_precision](clip[: max(6, count // 2)])
                    runs.append((summary["fps"] or 0.0, model_fps, peer, alone[1], alone[workers]))
                end_to_end, model_fps, _, one_call, with_workers = median_run(
                    runs, lambda run: run[0] / run[1]
                )
                peer_end_to_end, _, peer, _, _ = median_run(runs, lambda run: run[0] / run[2])
                name = f"{layout} {precision}" + (" (onnxruntime)" if precision == "int8" else "")
                threads = torch.get_num_threads()
                common = {
                    "frames": count,
                    "threads": threads,
                    "native_bf16": cpu_has_bf16() if precision == "bf16" and not on_gpu else None,
                    "device": device,
                }
                bounds = {}
                if side_ms is not None:
                    model_ms = 1000 * threads / model_fps  # CPU time per frame with every core busy
                    bounds = {
                        "side_cpu_ms": round(side_ms, 2),
                        "overhead_bound": round(model_ms / (model_ms + side_ms), 3),
                    }
                rows.append(
                    {
                        "name": f"{name}: end-to-end vs model alone",
                        "metric": "FPS",
                        "value": round(end_to_end, 2),
                        "unit": "frames/s",
                        "peer": "model alone, batch 1",
                        "peer_value": round(model_fps, 2),
                        "better": "higher",
                        # projected onto Jetsons from the fp32/bf16 figures (their FP16 throughput)
                        **({"gflops_per_item": round(gflops, 3)} if precision != "int8" else {}),
                        "precision": precision,
                        "pair_ratios": [round(run[0] / run[1], 3) for run in runs],
                        "model_alone_one_call": round(one_call, 2),
                        "workers": workers,
                        "model_alone_with_workers": round(with_workers, 2),
                        **bounds,
                        **common,
                    }
                )
                rows.append(
                    {
                        "name": f"{name}: vs transformers pipeline loop",
                        "metric": "FPS",
                        "value": round(peer_end_to_end, 2),
                        "unit": "frames/s",
                        "peer": f"transformers.pipeline('image-classification') {peer_precision}",
                        "peer_value": round(peer, 2),
                        "better": "higher",
                        "pair_ratios": [round(run[0] / run[2], 3) for run in runs],
                        **common,
                    }
                )
                by_peak.append((rows[-1], precision, gflops * peer))
                rows.append(
                    peak_row(name, gflops * model_fps, precision, common, gflops_per_frame=round(gflops, 3))
                )
                by_peak.append((rows[-1], precision, None))
                if layout == "vit_base" and precision != "int8":
                    batch_fps = batch_throughput(classifier, clip)
                    rows.append(
                        peak_row(
                            f"{name} batch 8",
                            gflops * batch_fps,
                            precision,
                            common,
                            goal=">= 0.65x in the best precision",
                            frames_per_s=round(batch_fps, 2),
                        )
                    )
                    by_peak.append((rows[-1], precision, None))
            for precision in precisions:
                peak_samples[precision].append(core.measure_matmul_peak(precision, device=device))
        for row, precision, peer_gflops_per_s in by_peak:
            peak = max(peak_samples[precision])
            if peer_gflops_per_s is None:
                row["peer_value"] = round(peak, 1)
                row["peak_samples"] = [round(sample, 1) for sample in peak_samples[precision]]
            else:
                row["peak_bound_ratio"] = round(peak / peer_gflops_per_s, 2)
    return rows
