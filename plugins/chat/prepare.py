"""'apps prepare chat': download Phi-1.5 when the hub is reachable; otherwise (or with --build) build the
miniature offline default with the app's own recipes: tiny-en-base, then tiny-zh-lora on top of it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from core.paths import default_model_dir
from plugins.chat.model import HUB_DEFAULT, hub_reachable, read_run, tiny_base_dir


def _complete(folder: Path) -> bool:
    run = read_run(folder) if folder.is_dir() else None
    return bool(run) and run.get("status") == "complete"


def train_recipe(app, name: str, folder: Path, force: bool, overrides: dict | None = None) -> Path:
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from core.training import run_training

    if _complete(folder) and not force:
        print(f"{name}: already built in {folder} (--force rebuilds it)", file=sys.stderr)
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    recipe = load_recipe(app.recipe_class, get_manager().recipe_path("chat", name), overrides or {})
    print(f"{name}: training into {folder}", file=sys.stderr)
    return run_training(app, recipe, run_dir=str(folder), recipe_name=name)


def prepare(app, build: bool = False, force: bool = False) -> Path:
    if not build and hub_reachable():
        from huggingface_hub import snapshot_download

        path = snapshot_download(HUB_DEFAULT, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
        print(f"{HUB_DEFAULT} is ready in {path}")
        return Path(path)
    if not build:
        print(
            "huggingface.co is not reachable: building the miniature offline default model", file=sys.stderr
        )
    base = train_recipe(app, "tiny-en-base", tiny_base_dir(), force)
    target = default_model_dir("chat")
    train_recipe(app, "tiny-zh-lora", target, force or not _complete(target), {"model": str(base)})
    print(
        f"offline default chat model: {target}\n  try: apps run chat --prompt '你好'\n  measure: apps eval chat"
    )
    return target
