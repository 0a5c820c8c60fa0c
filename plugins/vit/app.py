"""The vit app. Module level stays light (no torch): 'apps list' imports it."""

from core import App


class VitApp(App):
    name = "vit"
    description = "Live image classification from a camera with a Vision Transformer"
