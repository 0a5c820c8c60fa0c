"""Built-in plugin: Vision Transformer image classification (the ``vit`` app).

Hook implementations only; nothing heavy is imported here. The camera/stream/file URI schemes live in
``core.media`` (shared by every plugin); plugins add their own through ``register_sources``.
"""

from pathlib import Path

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.vit.app import VitApp

    register(VitApp)


@hookimpl
def register_recipes(register):
    recipes = Path(__file__).parent / "recipes"
    register(
        app="vit",
        name="vit-camera",
        path=recipes / "vit-camera.yaml",
        description="small timm ViT on camera scenes of digit and shape cards, and none (offline default)",
    )
    register(
        app="vit",
        name="vit-tiny-digits",
        path=recipes / "vit-tiny-digits.yaml",
        description="small timm ViT on handwritten + rendered digits and shapes (offline default)",
    )
    register(
        app="vit",
        name="vit-tiny-digits-lora",
        path=recipes / "vit-tiny-digits-lora.yaml",
        description="LoRA fine-tune of a ViT on the digits-and-shapes data (needs a base with weights)",
    )


@hookimpl
def register_datasets(register):
    def load_digits(**options):  # data.py (numpy, OpenCV) is imported only when the dataset is used
        from plugins.vit.data import load_default_dataset

        return load_default_dataset(**options)

    register(
        app="vit",
        name="digits-shapes",
        loader=load_digits,
        description="scikit-learn handwritten digits + OpenCV-rendered digits and shapes (ImageFolder)",
    )

    def load_scenes(**options):
        from plugins.vit.camera_data import load_camera_dataset

        return load_camera_dataset(**options)

    register(
        app="vit",
        name="camera-scenes",
        loader=load_scenes,
        description="camera scenes of digit and shape cards and none; heldout/ from reserved sources (ImageFolder)",
    )
