"""Scripted experts that demonstrate each task. ``factory(env) -> callable(obs) -> action``.

They read only the observation (the maze expert also reads the maze it is in, as a planner would).
"""

from __future__ import annotations

import math

import numpy as np


def cartpole_expert(env):
    """Bang-bang LQR balance: push right when K.s > 0 (gains from the linearised cart-pole, Q=diag(1,1,10,1))."""
    gains = np.array([1.0, 1.9, 27.0, 4.6])

    def act(obs):
        return int(float(np.dot(gains, obs)) > 0.0)

    return act


def pendulum_expert(env):
    """Energy-shaping swing-up, then a PD (LQR-like) balance once near the top.

    Gymnasium's pendulum obeys theta'' = 15 sin(theta) + 3 u (theta = 0 upright), so the energy
    E = theta'^2 / 2 + 15 (cos(theta) - 1) is 0 at rest upright and changes by 3 u theta' per second:
    pumping u ~ -E theta' drives E to 0, and a stabilising PD catches the pendulum near the top.
    """

    def act(obs):
        cos_t, sin_t, speed = (float(v) for v in obs)
        theta = math.atan2(sin_t, cos_t)
        energy = 0.5 * speed * speed + 15.0 * (cos_t - 1.0)
        if cos_t > 0.85 and abs(energy) < 4.0:
            torque = -(11.0 * theta + 2.6 * speed)
        else:
            torque = -0.6 * energy * speed
            if abs(torque) < 1e-3:  # at rest at the bottom: kick
                torque = 1.0
        return np.array([min(2.0, max(-2.0, torque))], dtype=np.float32)

    return act


def acrobot_expert(env):
    """Energy pumping: apply the elbow torque in the direction the elbow already turns.

    Torque along the second joint's speed (minus a little of the first's) adds energy to the swing every
    half period until the tip clears the bar (about 80 steps from rest).
    """

    def act(obs):
        drive = float(obs[5]) - 0.1 * float(obs[4])
        return 2 if drive > 0 else 0

    return act


def maze_expert(env):
    """Breadth-first-search planner: follow a shortest path from the current cell to the goal."""
    from plugins.control.maze import MOVES

    maze = env.unwrapped

    def act(obs):
        path = maze.plan()
        if not path or len(path) < 2:
            return 0
        (r0, c0), (r1, c1) = path[0], path[1]
        return MOVES.index((r1 - r0, c1 - c0))

    return act


def expert_for(env_id: str, env):
    """The registered expert of ``env_id`` bound to ``env``."""
    from core import AppsError
    from plugins.control.envs import env_entry

    entry = env_entry(env_id)
    target = entry.get("expert")
    if not target:
        raise AppsError(
            f"environment '{env_id}' has no scripted expert to collect demonstrations from",
            hint="its plugin can add one with register(..., expert='module:factory')",
        )
    if callable(target):
        return target(env)
    import importlib

    module_name, _, attr = str(target).partition(":")
    return getattr(importlib.import_module(module_name), attr)(env)
