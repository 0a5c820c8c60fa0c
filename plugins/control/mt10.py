"""Meta-World MT10 as control environments: a Sawyer arm, ten manipulation tasks, one English instruction each
(the task table, light to import, is tasks.py).

Every task is a gymnasium environment (``reach-v3`` ... ``window-close-v3``) registered through the control
plugin's own ``register_environments``; its scripted expert is Meta-World's (``metaworld.policies``). Object
and goal positions are random, drawn from the reset seed; an episode ends on success or after 500 steps.

The drawer and window tasks hide the goal position from the observation, and four shared-start variants
(``drawer-open-shared-v3`` ...) start a drawer or window half-open at a random opening: the open and the close
variant of one object start from the very same state for the same seed, so only the instruction says what to
do. Meta-World is imported only when an environment is built (``pip install metaworld``).
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core import AppsError
from plugins.control.tasks import HIDDEN_GOAL, INSTRUCTIONS, MAX_STEPS, MT10

_EXPERTS = {
    "reach-v3": "SawyerReachV3Policy",
    "push-v3": "SawyerPushV3Policy",
    "pick-place-v3": "SawyerPickPlaceV3Policy",
    "door-open-v3": "SawyerDoorOpenV3Policy",
    "drawer-open-v3": "SawyerDrawerOpenV3Policy",
    "drawer-close-v3": "SawyerDrawerCloseV3Policy",
    "button-press-topdown-v3": "SawyerButtonPressTopdownV3Policy",
    "peg-insert-side-v3": "SawyerPegInsertionSideV3Policy",
    "window-open-v3": "SawyerWindowOpenV3Policy",
    "window-close-v3": "SawyerWindowCloseV3Policy",
}


def _metaworld():
    try:
        import metaworld
        import metaworld.policies
    except ImportError as exc:
        raise AppsError(
            f"the Meta-World environments need the metaworld package ({exc})",
            hint="pip install metaworld (or pip install -e '.[control]')",
        ) from None
    return metaworld


def rendering_hint() -> str:
    return (
        "install an offscreen OpenGL (apt-get install libosmesa6) and set MUJOCO_GL=osmesa, or use a display"
    )


class MetaWorldEnv(gym.Env):
    """One Meta-World task with seeded random positions, success ending the episode, and its instruction.

    ``scene``: the Meta-World environment the task is played in; a scene other than the task's own (or a
    shared-start variant's) starts the object half-open and sets the goal of ``task`` in it.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, task: str, scene: str | None = None, render_mode: str | None = None):
        metaworld = _metaworld()
        if task not in INSTRUCTIONS:
            raise AppsError(f"unknown MT10 task '{task}'", hint=f"choose one of {', '.join(MT10)}")
        self.task, self.instruction = task, INSTRUCTIONS[task]
        self.shared = scene is not None
        self.render_mode = render_mode
        if render_mode and not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY"):
            os.environ["MUJOCO_GL"] = "osmesa"  # offscreen rendering without a display
        cls = metaworld.env_dict.ALL_V3_ENVIRONMENTS[scene or task]
        self.sim = cls(render_mode=render_mode, camera_name="corner2" if render_mode else None)
        self.sim._partially_observable = False
        del self.sim.sawyer_observation_space  # recomputed with the goal visible
        self.sim._set_task_called = True
        self.sim.seeded_rand_vec = True  # positions from the reset seed
        self.sim._freeze_rand_vec = False
        self.sim.max_path_length = MAX_STEPS
        self.observation_space = spaces.Box(-np.inf, np.inf, (39,), np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.hide_goal = task in HIDDEN_GOAL

    def _observe(self, obs):
        obs = np.asarray(obs, dtype=np.float64).copy()
        if self.hide_goal:
            obs[-3:] = 0.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.sim.seed(int(seed))
        obs, info = self.sim.reset()
        if self.shared:
            obs = self._half_open()
        return self._observe(obs), info

    def _half_open(self):
        """Open the drawer or window part of the way (drawn from the seed) and aim at this task's goal."""
        import mujoco

        sim = self.sim
        fraction = float(sim.np_random.uniform(0.35, 0.65))
        if self.task.startswith("drawer"):
            qpos, qvel = sim.data.qpos.flat.copy(), sim.data.qvel.flat.copy()
            qpos[9] = -fraction * sim.maxDist
            sim.set_state(qpos, qvel)
            closed = sim.obj_init_pos + np.array([0.0, -0.16, 0.09])
            sim._target_pos = closed + (np.array([0.0, -sim.maxDist, 0.0]) if "open" in self.task else 0.0)
        else:
            sim.data.joint("window_slide").qpos = 0.2 * fraction
            sim._target_pos = sim.obj_init_pos + (np.array([0.2, 0.0, 0.0]) if "open" in self.task else 0.0)
        sim.model.site("goal").pos = sim._target_pos
        mujoco.mj_forward(sim.model, sim.data)
        current = sim._get_curr_obs_combined_no_goal()
        sim._prev_obs = current.copy()
        return np.hstack((current, current, sim._target_pos))

    def step(self, action):
        obs, reward, _, truncated, info = self.sim.step(np.asarray(action, dtype=np.float32))
        success = bool(info.get("success", 0.0))
        info = {"success": success}
        return self._observe(obs), float(reward), success, bool(truncated), info

    def render(self):
        try:
            return np.ascontiguousarray(self.sim.render()[::-1])  # MuJoCo's rows run bottom-up
        except Exception as exc:  # no OpenGL: MuJoCo raises from its context creation
            raise AppsError(f"MuJoCo could not render ({exc})", hint=rendering_hint()) from None

    def close(self):
        try:
            self.sim.close()
        except AttributeError:  # a renderer whose OpenGL context never came up has nothing to free
            pass


def metaworld_expert(env):
    """Meta-World's scripted policy for the environment's task (the drawer and window experts read only the
    hand and the handle, so a hidden goal does not blind them)."""
    policies = _metaworld().policies
    policy = getattr(policies, _EXPERTS[env.unwrapped.task])()

    def act(obs):
        return np.clip(policy.get_action(np.asarray(obs, dtype=np.float64)), -1.0, 1.0).astype(np.float32)

    return act
