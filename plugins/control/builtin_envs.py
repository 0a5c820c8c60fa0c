"""The environments the control plugin registers (its ``register_environments``): one dict per environment,
in the fields of that hook (plugins/control/hookspecs.py)."""

EXPERTS = "plugins.control.experts"
MAZE = "plugins.control.maze:MazeEnv"

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
        "entry_point": MAZE,
        "kwargs": {"size": 10},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "reach the goal of a random 10x10 maze (4 moves), new maze every episode",
    },
    {
        "id": "Maze-memory-v0",
        "entry_point": MAZE,
        "kwargs": {"size": 10, "memory": True},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "Maze-v0 whose view also shows the cells the agent has visited (0.5)",
    },
    {
        "id": "Maze-map-v0",
        "entry_point": MAZE,
        "kwargs": {"size": 10, "mapping": True},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "Maze-v0 seen through the agent's map of all it has seen; the expert plans on that map",
    },
    {
        "id": "Maze-15-v0",
        "entry_point": MAZE,
        "kwargs": {"size": 15},
        "expert": f"{EXPERTS}:maze_expert",
        "description": "reach the goal of a random 15x15 maze (4 moves)",
    },
]
