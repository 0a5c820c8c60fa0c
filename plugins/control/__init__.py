"""Built-in plugin: Transformer policies for robots and games, learned from demonstrations.

Hook implementations only (no torch, no gymnasium import here): the app, its environments, its recipes,
and an ``on_result`` observer that turns other apps' results ("turn left", "stop") into commands for a
running control app.
"""

from pathlib import Path

from core import hookimpl

EXPERTS = "plugins.control.experts"
ENVIRONMENTS = [
    {
        "id": "CartPole-v1",
        "entry_point": "gymnasium.envs.classic_control.cartpole:CartPoleEnv",
        "max_episode_steps": 500,
        "expert": f"{EXPERTS}:cartpole_expert",
        "description": "balance a pole on a cart (discrete push left/right)",
    },
    {
        "id": "Acrobot-v1",
        "entry_point": "gymnasium.envs.classic_control.acrobot:AcrobotEnv",
        "max_episode_steps": 500,
        "expert": f"{EXPERTS}:acrobot_expert",
        "description": "swing a two-link arm above the bar (discrete elbow torque)",
    },
    {
        "id": "Pendulum-v1",
        "entry_point": "gymnasium.envs.classic_control.pendulum:PendulumEnv",
        "max_episode_steps": 200,
        "expert": f"{EXPERTS}:pendulum_expert",
        "description": "swing a pendulum up and hold it (continuous torque)",
    },
    {
        "id": "Maze-v0",
        "entry_point": "plugins.control.envs:MazeEnv",
        "kwargs": {"size": 10},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "reach the goal of a random 10x10 maze (4 moves), new maze every episode",
    },
    {
        "id": "Maze-memory-v0",
        "entry_point": "plugins.control.envs:MazeEnv",
        "kwargs": {"size": 10, "memory": True},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "Maze-v0 whose view also shows the cells the agent has visited (0.5)",
    },
    {
        "id": "Maze-map-v0",
        "entry_point": "plugins.control.envs:MazeEnv",
        "kwargs": {"size": 10, "mapping": True},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "Maze-v0 seen through the agent's map of all it has seen; the expert plans on that map",
    },
    {
        "id": "Maze-15-v0",
        "entry_point": "plugins.control.envs:MazeEnv",
        "kwargs": {"size": 15},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "reach the goal of a random 15x15 maze (4 moves)",
    },
]


@hookimpl
def register_apps(register):
    from plugins.control.app import ControlApp

    register(ControlApp)


@hookimpl
def register_environments(register):
    for entry in ENVIRONMENTS:
        register(**entry)


@hookimpl
def register_recipes(register):
    from core.recipes import recipes_in

    for name, path, description in recipes_in(Path(__file__).parent / "recipes"):
        register(app="control", name=name, path=path, description=description)


@hookimpl
def on_result(app, result, context):
    """Steer a running control app from another app's result, e.g. asr's {"text": "turn left"}."""
    if getattr(app, "name", "") == "control":
        return
    from plugins.control.steering import submit_result

    submit_result(result, source=getattr(app, "name", "") or context.get("source", ""))
