"""Device profiles: the hardware facts of a board, so that every app can fit the memory it has.

A profile is detected from the machine (``/proc/device-tree/model`` and total memory on a Jetson; ``cpu``
or ``cuda`` elsewhere) and can be forced with ``apps --profile NAME ...`` or ``APPS_PROFILE=NAME``.
A profile knows nothing of the apps: each App says what a profile means for its recipes
(``App.profile_settings``), and the engine applies that after the recipe file and before the command line's
``key=value`` overrides, so an explicit override always wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import AppsError
from core.machine import device_tree_model, meminfo


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    accelerator: str  # "jetson" (unified memory: CPU and GPU share it), "cuda" or "cpu"
    memory_gb: float  # what the board has; 0 where it varies (PCs)
    fp16_tflops: float  # dense FP16 tensor throughput, for the benchmark projections
    memory_bandwidth_gbs: float


# Dense FP16 tensor TFLOPS: AGX Orin 64GB's GPU is rated 170 sparse INT8 TOPS = 85 dense INT8 = 42.5 dense
# FP16; the smaller modules scale by CUDA cores x GPU clock (NX 16GB: 1024 @ 918 MHz, Nano 8GB: 1024 @ 625 MHz
# against 2048 @ 1.3 GHz). Memory bandwidth: LPDDR5 as published (204.8 / 102.4 / 68 GB/s).
PROFILES = {
    "orin-nano-8gb": Profile("orin-nano-8gb", "Jetson Orin Nano 8GB", "jetson", 8, 10.0, 68),
    "orin-nx-16gb": Profile("orin-nx-16gb", "Jetson Orin NX 16GB", "jetson", 16, 15.0, 102.4),
    "agx-orin-64gb": Profile("agx-orin-64gb", "Jetson AGX Orin 64GB", "jetson", 64, 42.5, 204.8),
    "cuda": Profile("cuda", "a PC with an NVIDIA GPU", "cuda", 0, 0, 0),
    "cpu": Profile("cpu", "a PC without a GPU (fp32, or bf16 where the CPU has it)", "cpu", 0, 0, 0),
}


def jetson_profile(model: str, memory_gb: float) -> str | None:
    """The profile of a Jetson from its device-tree model string and total memory."""
    text = model.lower()
    if "jetson" not in text and "orin" not in text:
        return None
    if "agx" in text:
        return "agx-orin-64gb"
    if "nano" in text:
        return "orin-nano-8gb"
    if "nx" in text:
        return "orin-nx-16gb"
    return "orin-nano-8gb" if memory_gb < 12 else "orin-nx-16gb" if memory_gb < 24 else "agx-orin-64gb"


def detect(root: Path = Path("/")) -> str:
    """Name of the profile that fits this machine (``root`` lets tests point at recorded fixtures)."""
    model = device_tree_model(root)
    if model:
        name = jetson_profile(model, meminfo(root).get("MemTotal", 0) / 2**20)
        if name:
            return name
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    except ImportError:
        pass
    return "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile named (or in ``$APPS_PROFILE``), else the detected one."""
    name = name or os.environ.get("APPS_PROFILE") or detect()
    if name not in PROFILES:
        from core.plugins import suggest

        raise AppsError(f"unknown device profile '{name}'", hint=suggest(name, PROFILES))
    return PROFILES[name]
