"""Built-in plugin: Transformer policies for robots and games, learned from demonstrations.

Hook implementations only (no torch, no gymnasium import here): the control plugin's own hook
(``register_environments``, see hookspecs.py), the app, its environments, its recipes, and an ``on_result``
observer that turns other apps' results ("turn left", "stop") into commands for a running control app.
"""

from pathlib import Path

from core import hookimpl


@hookimpl
def register_hookspecs(register):
    from plugins.control import hookspecs

    register(hookspecs)


@hookimpl
def register_apps(register):
    from plugins.control.app import ControlApp

    register(ControlApp)


@hookimpl
def register_environments(register):
    from plugins.control import tasks
    from plugins.control.builtin_envs import ENVIRONMENTS

    for entry in ENVIRONMENTS + tasks.environments():
        register(**entry)


@hookimpl
def register_recipes(register):
    from core import recipes_in

    for name, path, description in recipes_in(Path(__file__).parent / "recipes"):
        register(app="control", name=name, path=path, description=description)


@hookimpl
def on_result(app, result, context):
    """Steer a running control app from another app's result, e.g. asr's {"text": "turn left"}."""
    if getattr(app, "name", "") == "control":
        return
    from plugins.control.steering import submit_result

    submit_result(result, source=getattr(app, "name", "") or context.get("source", ""))
