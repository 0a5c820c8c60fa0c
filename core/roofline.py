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


@cache
def matmul_peak_gflops(dtype: str = "fp32", size: int = 2048, seconds: float = 1.5) -> float:
    """Best square-matmul throughput of this device in GFLOP/s (all threads torch uses)."""
    import torch

    from core.device import resolve_device

    device = resolve_device("auto")
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(size, size, dtype=torch_dtype, device=device)
    b = torch.randn(size, size, dtype=torch_dtype, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.mm(a, b)
    sync()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best / 1e9


@cache
def memory_bandwidth_gbs(megabytes: int = 512, seconds: float = 1.5) -> float:
    """Best copy bandwidth in GB/s (bytes read + bytes written), on a buffer far larger than the caches."""
    import torch

    from core.device import resolve_device

    device = resolve_device("auto")
    source = torch.ones(megabytes * 2**20 // 4, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    target.copy_(source)
    sync()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        target.copy_(source)
        sync()
        best = max(best, 2 * source.numel() * 4 / (time.perf_counter() - start))
    return best / 1e9


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
