"""Built-in plugin: Transformer policies learned from demonstrations."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.control.app import ControlApp

    register(ControlApp)
