"""The control app. Module level stays light (no torch): 'apps list' imports it."""

from core import App


class ControlApp(App):
    name = "control"
    description = "Transformer policies for robots and games, learned from demonstrations"
