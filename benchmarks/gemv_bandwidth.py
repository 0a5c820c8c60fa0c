"""How fast torch streams weights through a batch-1 matrix-vector product (each decode step's operation)
against a plain reduction and a copy over the same bytes: the ceiling for bandwidth-bound LLM decoding.

    python benchmarks/gemv_bandwidth.py

Uses twelve 8192x2048 fp32 matrices (800 MB, far beyond the caches), the shape of Phi-1.5's MLP layers.
"""

from __future__ import annotations

import time

import torch


def weights_gbs(fn, weights, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for weight in weights:
            fn(weight)
        best = min(best, time.perf_counter() - start)
    return sum(w.numel() * w.element_size() for w in weights) / best / 1e9


def main() -> None:
    torch.manual_seed(0)
    weights = [torch.randn(8192, 2048) for _ in range(12)]
    x, bias = torch.randn(1, 2048), torch.randn(8192)
    print(f"threads {torch.get_num_threads()}")
    with torch.inference_mode():
        print(f"F.linear (batch 1)   {weights_gbs(lambda w: torch.nn.functional.linear(x, w, bias), weights):6.1f} GB/s read")
        print(f"torch.mv             {weights_gbs(lambda w: torch.mv(w, x[0]), weights):6.1f} GB/s read")
        print(f"sum (plain stream)   {weights_gbs(lambda w: w.sum(), weights):6.1f} GB/s read")
        source = torch.ones(128 * 2**20)
        target = torch.empty_like(source)
        print(f"copy                 {weights_gbs(lambda s: target.copy_(s), [source]) * 2:6.1f} GB/s read+write")


if __name__ == "__main__":
    main()
