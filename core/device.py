"""Device and precision choice, one place for every app. Imports torch only when called."""

from __future__ import annotations

from core.errors import AppsError


def resolve_device(name: str | None = "auto"):
    """``auto`` -> CUDA when available, else CPU; anything else is checked and returned as torch.device."""
    import torch

    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AppsError(f"device '{name}' was asked for, but CUDA is not available", hint="use --device cpu")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 matrix multiplies natively (AVX512-BF16 or AMX on x86; BF16 on Arm)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(precision: str | None = "auto", device=None, training: bool = False):
    """``auto`` -> bf16 on CUDA cards that have it (fp16 otherwise), bf16 on CPUs that have it, else fp32."""
    import torch

    names = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if precision not in (None, "", "auto"):
        if precision not in names:
            raise AppsError(f"unknown precision '{precision}'", hint="use one of auto, fp32, fp16, bf16")
        return names[precision]
    device = resolve_device(device if isinstance(device, str) or device is None else str(device))
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def dtype_name(dtype) -> str:
    return {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), str(dtype))
