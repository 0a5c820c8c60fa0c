"""The whole plugin contract of transformer-apps: markers and hook specifications, nothing else.

A plugin is a module (built-in: ``plugins.<name>``; third-party: an entry point in the group
``transformer_apps``) with functions decorated by ``@hookimpl`` whose names match the specs below.
Hooks named ``register_*`` contribute things through a ``register`` callback and are called once, the
first time the CLI needs that kind of thing. Hooks named ``on_*`` observe events and may be called often.

Every hook is optional, and every argument is passed by keyword: an implementation may accept only the
arguments it needs. Keep ``register_*`` implementations cheap: import no torch there.

Order: each implementation is called on its own (a failing plugin is reported, the others go on):
``@hookimpl(tryfirst=True)`` first, ``@hookimpl(trylast=True)`` last, the others in load order (built-ins,
then third-party plugins). Hook wrappers are refused when a plugin loads. A clash of names in a registry is
an error that names both plugins; the first to register keeps the name, and a built-in always does.
"""

from __future__ import annotations

import pluggy

PROJECT = "transformer_apps"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_apps(register):
    """Contribute applications.

    Called once per process, when the app registry is first needed (``apps list``, ``apps run`` ...).
    ``register(app_class)`` takes a subclass of :class:`core.App` with a unique ``name``; a second app of
    the same name, from any plugin, is an error naming both plugins. Returns nothing.
    """


@hookspec
def register_datasets(register):
    """Contribute named datasets to any app.

    ``register(app="vit", name="digits", loader=callable, description="...")``. ``loader(**options)`` is
    called only when the dataset is used and returns whatever that app's training and evaluation code
    accepts (documented by the app). ``apps info APP`` lists them. Returns nothing.
    """


@hookspec
def register_recipes(register):
    """Contribute fine-tune recipes (YAML files).

    ``register(app="chat", name="phi15-zh-lora", path=Path(...), description="...")``. The recipe is
    used as ``apps train chat --recipe phi15-zh-lora`` and listed by ``apps info chat``. Returns nothing.
    """


@hookspec
def register_sources(register):
    """Contribute input URI schemes for cameras, streams and files.

    ``register(scheme="synthetic", opener=callable, description="...")``. ``opener(uri, **options)`` is
    called by ``core.media.open_source`` for URIs of that scheme and returns a frame source. Returns nothing.
    """


@hookspec
def register_hookspecs(register):
    """Add hook specifications of a plugin's own, for other plugins to implement.

    ``register(module_or_class)`` takes an object whose functions carry ``core.hookspec`` markers (pluggy's
    ``add_hookspecs``). Called once, after every plugin has loaded. A registry hook of one's own is read
    with ``core.get_manager().registry(hook_name, core.Schema(...))``; the control plugin's
    ``register_environments`` is one. Returns nothing.
    """


@hookspec
def register_commands(cli):
    """Add top-level commands to the ``apps`` CLI.

    ``cli`` is the root :class:`click.Group`; call ``cli.add_command(cmd)``. Called once at start-up
    of every ``apps`` invocation, so import nothing heavy here. Returns nothing.
    """


@hookspec
def on_result(app, result, context):
    """Observe one prediction of any app: draw an overlay, log it, drive a robot.

    Called by the app after each result it produces (a frame's labels, a transcript, a chat answer, a
    forecast). ``app`` is the App instance, ``result`` a JSON-friendly dict whose keys the app documents,
    ``context`` a dict with at least ``"source"`` (where the input came from) and ``"time"`` (UNIX
    seconds). All implementations are called; return values are ignored. Exceptions are reported and
    do not stop the app.
    """


@hookspec
def on_train_event(event, state):
    """Observe training.

    ``event`` is one of ``"train_begin"``, ``"log"``, ``"evaluate"``, ``"save"``, ``"train_end"``.
    ``state`` is a dict with at least ``app``, ``run_dir``, ``step``, ``max_steps``, ``epoch`` and, for
    ``"log"``/``"evaluate"``, the logged metrics. Return ``True`` from any implementation to stop
    training early (after the current step, with a final checkpoint); other return values are ignored.
    """
