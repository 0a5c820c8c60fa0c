"""transformer-apps core: the public API for plugins.

    from core import App, hookimpl, TrainingParts, build_default

Built-in plugins, examples and third-party plugins import only the names in ``__all__``; every other module
of ``core`` may change without notice. Names load on first use (PEP 562), so ``import core`` stays cheap
and ``apps --help`` imports no torch. docs/plugins.md describes each name.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    # the plugin contract
    "App": "core.app",
    "hookimpl": "core.hookspecs",
    "hookspec": "core.hookspecs",
    "AppsError": "core.errors",
    "NotAvailableError": "core.errors",
    "options": "core",  # the module core.options: click options every app spells the same way
    "get_manager": "core.plugins",
    "Schema": "core.plugins",
    "suggest": "core.plugins",
    # recipes and training
    "Recipe": "core.recipes",
    "load_recipe": "core.recipes",
    "recipes_in": "core.recipes",
    "TrainingParts": "core.training.parts",
    "run_training": "core.training.engine",
    "train_recipe": "core.training.engine",
    "load_trained_model": "core.training.engine",
    "is_run_dir": "core.rundir",
    "load_run": "core.rundir",
    "atomic_save": "core.rundir",
    "atomic_write_json": "core.rundir",
    # offline defaults
    "default_model_dir": "core.paths",
    "default_is_built": "core.defaults",
    "require_default": "core.defaults",
    "build_default": "core.defaults",
    # models, devices, files
    "ModelRef": "core.models",
    "resolve_model": "core.models",
    "is_offline": "core.models",
    "hub_reachable": "core.models",
    "hf_from_pretrained": "core.models",
    "timm_create": "core.models",
    "load_weights": "core.models",
    "hub_cache": "core.models",
    "apps_home": "core.paths",
    "data_dir": "core.paths",
    "runs_dir": "core.paths",
    "resolve_device": "core.device",
    "resolve_dtype": "core.device",
    "dtype_name": "core.device",
    "cpu_has_bf16": "core.device",
    # media
    "Capture": "core.media.capture",
    "Frame": "core.media.sources",
    "FrameSource": "core.media.sources",
    "OpenCVCapture": "core.media.sources",
    "open_source": "core.media.sources",
    "list_cameras": "core.media.sources",
    "open_sink": "core.media.sinks",
    "has_display": "core.media.sinks",
    "SinkWorker": "core.media.sinks",
    "VideoFileSink": "core.media.sinks",
    "WindowSink": "core.media.sinks",
    "ModelWorkers": "core.media.workers",
    "cpu_threads": "core.media.workers",
    "read_image": "core.media.images",
    "to_bgr": "core.media.images",
    "FpsMeter": "core.media.overlay",
    "draw_banner": "core.media.overlay",
    "draw_crop_box": "core.media.overlay",
    "draw_heatmap": "core.media.overlay",
    "draw_stats": "core.media.overlay",
    "draw_top_k": "core.media.overlay",
    # measurement and the demo
    "PeakMemory": "core.bench",
    "timed": "core.bench",
    "measure_matmul_peak": "core.roofline",
    "friendly": "core.demo",
    "scratch_path": "core.demo",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'core' has no attribute {name!r} (the public API is core.__all__)")
    module = _EXPORTS[name]
    value = importlib.import_module(f"core.{name}") if module == "core" else getattr(
        importlib.import_module(module), name
    )
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
