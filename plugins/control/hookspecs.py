"""The control plugin's own hook: other plugins implement it to add environments.

Added to the plugin manager by the control plugin's ``register_hookspecs``; implemented with
``core.hookimpl`` like any core hook. ``plugins.control.envs`` reads it and checks every registration.
"""

from __future__ import annotations

from core import hookspec


@hookspec
def register_environments(register):
    """Contribute environments to the control app (``apps collect|train|eval|run control --env ID``).

    Called once per process, the first time the control app needs its environments (``make_env``,
    ``apps info control``, the demo's list). ``register(...)`` takes, by keyword:

    * ``id`` (required): the environment's name, unique across plugins, e.g. ``"MyRobot-v0"``;
    * ``entry_point`` (required): ``"package.module:Class"`` of a ``gymnasium.Env``;
    * ``kwargs``: a dict passed to the class;
    * ``max_episode_steps``: gymnasium's time limit;
    * ``expert``: ``"module:factory"`` (or a callable); ``factory(env)`` returns ``obs -> action``, the
      scripted expert that ``apps collect`` records and that evaluation compares with;
    * ``description``: one line for listings.

    Any other field is refused with the valid ones listed; a second environment of the same id is an error
    naming both plugins. Import no gymnasium or torch here: the environment is built only when used.
    Returns nothing.
    """
