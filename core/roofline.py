"""This machine's own limits, and projections of a measured figure onto Jetson boards.

Two limits bound every app: matrix-multiply throughput (compute-bound work: ViT frames, training steps,
ASR encoders) and memory bandwidth (LLM decoding reads every weight once per token). ``apps bench`` states
each app's figure as a fraction of the limit measured here, in the same run, and projects it onto the
Orin boards from their published dense FP16 throughput and memory bandwidth (``core.profiles``), assuming
the board reaches the same fraction of its own limit.
"""

from __future__ import annotations

import time
from functools import cache

JETSONS = ("orin-nano-8gb", "orin-nx-16gb", "agx-orin-64gb")


def _best_rate(run, work: float, seconds: float, sync=lambda: None) -> float:
    """Best ``work`` / second of ``run()`` over ``seconds`` (after one warm-up call)."""
    run()
    sync()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        sync()
        best = max(best, work / (time.perf_counter() - start))
    return best


@cache
def matmul_peak_gflops(
    dtype: str = "fp32", size: int = 2048, seconds: float = 1.5, device: str = "auto"
) -> float:
    """:func:`measure_matmul_peak`, once per process and arguments."""
    return measure_matmul_peak(dtype, size, seconds, device)


def measure_matmul_peak(
    dtype: str = "fp32", size: int = 2048, seconds: float = 1.5, device: str = "auto"
) -> float:
    """Best square-matmul throughput of this device in GFLOP/s (all threads the runtime uses). On a shared
    machine one sample can fall in a slow minute: a benchmark that runs for minutes takes several.

    ``int8`` is onnxruntime's ``MatMulInteger`` on the CPU (uint8 x int8, the kernel that the models of
    ``apps export vit --int8`` run), in GOP/s, at most 1024 wide: at 2048 its int32 product no longer
    fits the caches and the figure halves."""
    if dtype == "int8":
        return _int8_matmul_peak_gops(min(size, 1024), seconds)
    import torch

    from core.device import resolve_device, resolve_dtype

    where = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    a = torch.randn(size, size, dtype=torch_dtype, device=where)
    b = torch.randn(size, size, dtype=torch_dtype, device=where)
    sync = torch.cuda.synchronize if where.type == "cuda" else (lambda: None)
    return _best_rate(lambda: torch.mm(a, b), 2 * size**3, seconds, sync) / 1e9


def _int8_matmul_peak_gops(size: int, seconds: float) -> float:
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.integers(-127, 128, (size, size), dtype=np.int8), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "int8_peak",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [size, size])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"a": rng.integers(0, 256, (size, size), dtype=np.uint8)}
    return _best_rate(lambda: session.run(None, feed), 2 * size**3, seconds) / 1e9


@cache
def memory_bandwidth_gbs(megabytes: int = 512, seconds: float = 1.5) -> float:
    """Best copy bandwidth in GB/s (bytes read + bytes written), on a buffer far larger than the caches."""
    import torch

    from core.device import resolve_device

    device = resolve_device("auto")
    source = torch.ones(megabytes * 2**20 // 4, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    return _best_rate(lambda: target.copy_(source), 2 * source.numel() * 4, seconds, sync) / 1e9


def compute_fraction(items_per_second: float, gflops_per_item: float, dtype: str = "fp32") -> float:
    """Share of this machine's matmul peak that a compute-bound figure reaches."""
    return items_per_second * gflops_per_item / matmul_peak_gflops(dtype)


def bandwidth_fraction(items_per_second: float, gbytes_per_item: float) -> float:
    """Share of this machine's memory bandwidth that a bandwidth-bound figure reaches (decoding)."""
    return items_per_second * gbytes_per_item / memory_bandwidth_gbs()


def project(gflops_per_item: float | None = None, gbytes_per_item: float | None = None,
            fraction: float = 1.0) -> dict[str, float]:
    """Items/s each Jetson would reach at ``fraction`` of its limit: FP16 tensor throughput for compute-bound
    work, memory bandwidth for bandwidth-bound work (whichever bound is tighter when both are given)."""
    from core.profiles import PROFILES

    out = {}
    for name in JETSONS:
        profile = PROFILES[name]
        bounds = []
        if gflops_per_item:
            bounds.append(profile.fp16_tflops * 1e3 / gflops_per_item)
        if gbytes_per_item:
            bounds.append(profile.memory_bandwidth_gbs / gbytes_per_item)
        out[name] = min(bounds) * fraction if bounds else float("nan")
    return out
