"""'apps prepare chat': download Phi-1.5 when the hub is reachable; otherwise (or with --build) build the
miniature offline default with the app's own recipes, a chain of two links: tiny-en-base (pretrained from
scratch) into $APPS_HOME/models/chat/tiny-en-base, then tiny-zh-lora on top of it into the default folder."""

from __future__ import annotations

import sys
from pathlib import Path

from core import build_default, default_is_built, is_offline
from plugins.chat.model import HUB_DEFAULT, TINY_BASE, tiny_base_dir


def prepare(app, build: bool = False, force: bool = False) -> Path:
    if not build and not is_offline():
        from huggingface_hub import snapshot_download

        path = snapshot_download(HUB_DEFAULT, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
        print(f"{HUB_DEFAULT} is ready in {path}")
        return Path(path)
    if not build:
        print(
            "huggingface.co is not reachable: building the miniature offline default model", file=sys.stderr
        )
    # The adapter is trained on the base as it is now: a rebuilt base needs a rebuilt adapter.
    rebuild_base = force or not default_is_built(app.name, tiny_base_dir())
    base = build_default(app, TINY_BASE, tiny_base_dir(), force=force)
    target = build_default(app, "tiny-zh-lora", overrides={"model": str(base)}, force=rebuild_base)
    print(
        f"offline default chat model: {target}\n  try: apps run chat --prompt '你好'\n  measure: apps eval chat"
    )
    return target
