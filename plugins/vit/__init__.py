"""Built-in plugin: Vision Transformer image classification (the ``vit`` app).

Hook implementations only; nothing heavy is imported here. The camera/stream/file URI schemes live in
``core.media`` (shared by every plugin); plugins add their own through ``register_sources``.
"""

from pathlib import Path

from core import hookimpl

RECIPES = Path(__file__).parent / "recipes"


@hookimpl
def register_apps(register):
    from plugins.vit.app import VitApp

    register(VitApp)


@hookimpl
def register_recipes(register):
    register(
        app="vit",
        name="vit-tiny-digits",
        path=RECIPES / "vit-tiny-digits.yaml",
        description="small timm ViT on handwritten + rendered digits and shapes (offline default)",
    )
    register(
        app="vit",
        name="vit-tiny-digits-lora",
        path=RECIPES / "vit-tiny-digits-lora.yaml",
        description="LoRA fine-tune of a ViT on the digits-and-shapes data (needs a base with weights)",
    )


def _load_digits(**options):
    from plugins.vit.training import load_default_dataset

    return load_default_dataset(**options)


@hookimpl
def register_datasets(register):
    register(
        app="vit",
        name="digits-shapes",
        loader=_load_digits,
        description="scikit-learn handwritten digits + OpenCV-rendered digits and shapes (ImageFolder)",
    )
