"""Faster batch-1 decoding on a CPU: matrix-vector products through numpy's OpenBLAS.

Decoding one token reads every weight once, so on a CPU its speed is the speed of the matrix-vector
products, and numpy's OpenBLAS streams the weights faster than torch's kernel (figures in docs/chat.md).
That holds only while OpenMP's idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``) instead of spinning against
the BLAS threads; spinning, OpenBLAS is slower than torch, so the fast path is used only where the policy
is set.
"""

from __future__ import annotations

import os
import sys
import types

MIN_WEIGHTS = 2**20  # 4 MB of fp32


def prefer_sleeping_threads() -> None:
    """Call before torch is first imported: OpenMP reads its wait policy once, at start-up."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def fast_path_available() -> bool:
    """OpenMP threads sleep when idle and numpy's BLAS is OpenBLAS (the pairing that was measured)."""
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        return False
    import numpy

    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except (TypeError, KeyError):  # numpy < 1.26 has no mode="dicts"
        return False
    return "openblas" in str(blas).lower()


def _linear_forward(self, x):
    import torch

    if (
        x.numel() == x.shape[-1]  # a single row: one token of one sequence
        and x.dtype == self.weight.dtype == torch.float32
        and x.device.type == "cpu"
        and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
    ):
        y = torch.from_numpy(self.weight.detach().numpy() @ x.detach().reshape(-1).numpy())
        if self.bias is not None:
            y += self.bias.detach()
        return y.reshape(*x.shape[:-1], -1)
    return torch.nn.functional.linear(x, self.weight, self.bias)


def use_openblas_gemv(model) -> int:
    """Where ``fast_path_available()``, route the single-row fp32 products of every large ``nn.Linear`` of
    ``model`` on the CPU through OpenBLAS; batches, training, other dtypes and devices keep torch's kernels.
    Returns how many layers were switched."""
    import torch

    if not fast_path_available():
        return 0
    switched = 0
    for module in model.modules():
        # Small layers stay with torch: below a few MB the call's overhead, not the bandwidth, decides.
        if (
            type(module) is torch.nn.Linear
            and module.weight.dtype == torch.float32
            and module.weight.device.type == "cpu"
            and module.weight.numel() >= MIN_WEIGHTS
        ):
            module.forward = types.MethodType(_linear_forward, module)
            switched += 1
    return switched
