"""Built-in plugin: Vision Transformer image classification."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.vit.app import VitApp

    register(VitApp)
