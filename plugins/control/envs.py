"""The environment registry: what plugins register with ``register_environments``, built through gymnasium.

``known_envs()`` collects every plugin's registrations (the control plugin's own are ``builtin_envs``),
checked against ``SCHEMA``; ``make_env(id)`` registers an environment with gymnasium on first use and builds
it. ``describe_space`` is how policies and datasets record the spaces they were made for.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core import AppsError, Schema, get_manager, suggest

HOOK = "register_environments"  # the control plugin's own hook (plugins/control/hookspecs.py)
SCHEMA = Schema(
    kind="environment",
    key=("id",),
    required=("entry_point",),
    optional=("kwargs", "max_episode_steps", "expert", "description"),
)


def known_envs() -> dict[str, dict]:
    """Environment id -> registration fields, from every plugin's ``register_environments``."""
    return {entry.key: entry.value for entry in get_manager().registry(HOOK, SCHEMA)}


def env_entry(env_id: str) -> dict:
    """The registration of ``env_id``; an unknown id is an error listing the known ones."""
    known = known_envs()
    if env_id not in known:
        raise AppsError(f"unknown environment '{env_id}'", hint=suggest(env_id, known))
    return known[env_id]


def make_env(env_id: str, render_mode: str | None = None, **kwargs) -> gym.Env:
    """Build a registered environment with gymnasium (registering it there on first use)."""
    entry = env_entry(env_id)
    if env_id not in gym.registry:
        gym.register(
            id=env_id,
            entry_point=entry["entry_point"],
            kwargs=dict(entry.get("kwargs") or {}),
            max_episode_steps=entry.get("max_episode_steps"),
        )
    options = dict(kwargs)
    if render_mode:
        options["render_mode"] = render_mode
    try:
        return gym.make(env_id, **options)
    except Exception as exc:  # a third-party entry point that does not import, or bad kwargs
        raise AppsError(f"could not create environment '{env_id}': {exc}") from exc


def describe_space(space) -> dict:
    """A JSON-friendly description of a gymnasium space (what policies record and compare)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "discrete", "n": int(space.n)}
    if isinstance(space, spaces.Box):
        return {
            "type": "box",
            "shape": list(space.shape),
            "low": np.asarray(space.low).ravel().tolist(),
            "high": np.asarray(space.high).ravel().tolist(),
        }
    raise AppsError(f"unsupported space {space}", hint="control policies handle Discrete and Box spaces")


def space_text(desc: dict) -> str:
    """``Discrete(4)`` or ``Box(84,)``: a space description as error messages show it."""
    if desc["type"] == "discrete":
        return f"Discrete({desc['n']})"
    return f"Box{tuple(desc['shape'])}"
