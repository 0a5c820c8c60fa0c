"""control plugin: experts, maze generator and BFS, dataset format, tiny training through the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import AppsError

pytest.importorskip("gymnasium")
pytest.importorskip("pyarrow")


def _play(env_id, seeds, act_factory=None):
    from plugins.control.envs import make_env
    from plugins.control.experts import expert_for

    rows = []
    for seed in seeds:
        env = make_env(env_id)
        act = (act_factory or expert_for)(env_id, env)
        obs, info = env.reset(seed=seed)
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total, steps = total + reward, steps + 1
            if terminated or truncated:
                break
        rows.append({"return": total, "steps": steps, "terminated": terminated, "obs": obs, "info": info})
    return rows


def test_cartpole_expert_balances_for_500_steps():
    for row in _play("CartPole-v1", [0, 1, 2]):
        assert row["steps"] == 500 and not row["terminated"]


def test_pendulum_expert_swings_up_and_holds():
    rows = _play("Pendulum-v1", [0, 1, 2, 3])
    for row in rows:
        cos_theta = row["obs"][0]
        assert cos_theta > 0.99, "the pendulum should end upright"
    assert np.mean([r["return"] for r in rows]) > -250


def test_acrobot_expert_reaches_the_bar():
    rows = _play("Acrobot-v1", [0, 1, 2])
    assert all(r["terminated"] for r in rows)
    assert np.mean([r["steps"] for r in rows]) < 200


def test_maze_expert_walks_shortest_paths():
    for row in _play("Maze-v0", range(5)):
        assert row["info"]["success"] and row["steps"] == row["info"]["shortest"]


def test_maze_memory_marks_visited_cells_in_the_view():
    from plugins.control.envs import make_env
    from plugins.control.maze import MOVES

    plain, remembering = make_env("Maze-v0"), make_env("Maze-memory-v0")
    obs_plain, _ = plain.reset(seed=7)
    obs_memory, _ = remembering.reset(seed=7)
    side = 2 * remembering.unwrapped.view_radius + 1
    center = (side * side) // 2
    assert obs_plain[center] == 0.0 and obs_memory[center] == 0.5  # the agent stands on a visited cell
    maze = remembering.unwrapped
    action = next(a for a, free in enumerate(maze.action_mask()) if free)
    obs_memory, *_ = remembering.step(action)
    dr, dc = MOVES[action]
    behind = center - (dr * side + dc)  # the cell it came from, seen from where it stands now
    assert obs_memory[behind] == 0.5 and obs_memory[center] == 0.5
    assert set(np.unique(obs_memory[: side * side])) <= {0.0, 0.5, 1.0}


def test_maze_map_shows_what_the_agent_has_seen_and_its_expert_plans_on_it():
    from plugins.control.envs import make_env

    env = make_env("Maze-map-v0")
    obs, _ = env.reset(seed=11)
    maze = env.unwrapped
    side = 2 * (maze.size + 1) + 1  # the whole maze fits around the agent wherever it stands
    assert obs.shape == (side * side + 3,)
    unseen = int((obs[: side * side] == 0.5).sum())
    assert unseen == int((~maze.seen).sum()) > 0  # a 9x9 view does not cover a 10x10 maze from its start
    image = maze.render()  # the view shades what the agent has not seen yet
    (r, c), (sr, sc) = (
        np.argwhere(~maze.seen & (maze.grid == 0))[0],
        np.argwhere(maze.seen & (maze.grid == 0))[0],
    )
    assert (image[r * 24 + 1, c * 24 + 1] < 255).all() and (image[sr * 24 + 1, sc * 24 + 1] == 255).all()
    known = np.where(maze.seen, maze.grid, 0)
    assert maze.plan()[0] == maze.agent and all(known[cell] == 0 for cell in maze.plan())
    row = _play("Maze-map-v0", [11])[0]  # the expert plans on what it has seen and still arrives
    assert row["info"]["success"] and row["steps"] >= row["info"]["shortest"]
    obs, *_ = env.step(0)
    assert int((obs[: side * side] == 0.5).sum()) <= unseen  # the map only grows


def test_shortest_path_on_a_known_grid():
    from plugins.control.maze import path_actions, shortest_path

    grid = np.array(
        [
            [1, 1, 1, 1, 1, 1],
            [1, 0, 0, 0, 0, 1],
            [1, 1, 1, 1, 0, 1],
            [1, 0, 0, 0, 0, 1],
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=np.int8,
    )
    path = shortest_path(grid, (1, 1), (3, 1))
    assert len(path) - 1 == 8
    assert path[0] == (1, 1) and path[-1] == (3, 1)
    assert all(
        abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 and grid[b] == 0
        for a, b in zip(path, path[1:], strict=False)
    )
    assert path_actions(path)[:3] == [1, 1, 1]  # right, right, right
    grid[2, 4] = 1
    assert shortest_path(grid, (1, 1), (3, 1)) is None


@pytest.mark.parametrize("kind", ["obstacles", "perfect"])
def test_maze_generator_is_solvable_and_reproducible(kind):
    from plugins.control.maze import generate_maze, shortest_path

    for seed in range(20):
        grid, start, goal = generate_maze(np.random.default_rng(seed), 9, 0.3, kind)
        assert grid[0].all() and grid[-1].all() and grid[:, 0].all() and grid[:, -1].all()
        assert grid[start] == 0 and grid[goal] == 0 and start != goal
        assert shortest_path(grid, start, goal) is not None
        again = generate_maze(np.random.default_rng(seed), 9, 0.3, kind)
        assert (again[0] == grid).all() and again[1:] == (start, goal)


def test_maze_env_observation_and_walls():
    from plugins.control.maze import MazeEnv

    env = MazeEnv(size=6, view_radius=1)
    obs, info = env.reset(seed=3)
    assert obs.shape == env.observation_space.shape == (12,)
    view = obs[:9].reshape(3, 3)
    r, c = env.agent
    assert (view == env.grid[r - 1 : r + 2, c - 1 : c + 2]).all()
    blocked = [a for a, (dr, dc) in enumerate(((-1, 0), (0, 1), (1, 0), (0, -1))) if env.grid[r + dr, c + dc]]
    assert [a for a, allowed in enumerate(env.action_mask()) if not allowed] == blocked
    if blocked:
        env.step(blocked[0])
        assert env.agent == (r, c), "walking into a wall keeps the agent in place"


def test_unknown_environment_lists_known_ones():
    from plugins.control.envs import make_env

    with pytest.raises(AppsError) as error:
        make_env("CartPol-v1")
    assert "CartPole-v1" in str(error.value) and "Maze-v0" in str(error.value)


def test_third_party_environment_registers_through_the_hook(monkeypatch):
    from core import hookimpl
    from core.plugins import get_manager
    from plugins.control.envs import known_envs, make_env

    class Plugin:
        @hookimpl
        def register_environments(register):
            register(
                id="TinyMaze-v0",
                entry_point="plugins.control.maze:MazeEnv",
                kwargs={"size": 4},
                expert="plugins.control.experts:maze_expert",
                description="4x4 mazes",
            )

    get_manager().pm.register(Plugin, name="tiny-maze")
    assert "TinyMaze-v0" in known_envs()
    env = make_env("TinyMaze-v0")
    assert env.unwrapped.size == 4


def test_environment_registrations_with_unknown_fields_are_refused():
    from core import hookimpl
    from core.errors import PluginError
    from core.plugins import get_manager
    from plugins.control.envs import SCHEMA, known_envs

    class Plugin:
        @hookimpl
        def register_environments(register):
            register(id="Fast-v0", entry_point="plugins.control.maze:MazeEnv", speed=3)

    get_manager().pm.register(Plugin, name="fast")
    known = known_envs()
    assert "Fast-v0" not in known and "CartPole-v1" in known
    with pytest.raises(PluginError) as error:
        SCHEMA.entry("fast", id="Fast-v0", entry_point="plugins.control.maze:MazeEnv", speed=3)
    assert "speed" in str(error.value)
    assert "valid fields: id, entry_point, kwargs, max_episode_steps, expert, description" in str(error.value)


def _record(env_id, episodes, seed=0):
    from plugins.control.dataset import record_episodes

    return record_episodes(env_id, episodes, seed=seed, noise=0.1)


def test_dataset_roundtrip_and_parquet_layout(tmp_path):
    import pandas as pd

    from plugins.control.dataset import read_dataset, write_dataset

    for env_id in ("Maze-v0", "Pendulum-v1"):
        episodes, info = _record(env_id, 3)
        out = write_dataset(tmp_path / env_id, episodes, info)
        data = read_dataset(out)
        assert data.env == env_id and len(data.episodes) == 3
        for a, b in zip(episodes, data.episodes, strict=True):
            assert np.array_equal(a.observations, b.observations)
            assert np.array_equal(a.actions, b.actions)
            assert np.allclose(a.rewards, b.rewards)
        frame = pd.read_parquet(out / "data")
        assert len(frame) == sum(e.length for e in episodes) == data.info["total_frames"]
        assert {"observation.state", "action", "next.reward", "episode_index", "next.done"} <= set(
            frame.columns
        )
        assert frame.groupby("episode_index")["next.done"].sum().tolist() == [1, 1, 1]
        lines = (out / "meta" / "episodes.jsonl").read_text().splitlines()
        assert [json.loads(line)["length"] for line in lines] == [e.length for e in episodes]
    assert not list(tmp_path.glob(".*tmp-*")), "no temporary folder is left behind"


def test_corrupt_dataset_files_give_clear_errors(tmp_path):
    from plugins.control.dataset import read_dataset, write_dataset

    episodes, info = _record("CartPole-v1", 1)
    out = write_dataset(tmp_path / "cartpole", episodes, info)
    parquet = next((out / "data").rglob("*.parquet"))
    content = parquet.read_bytes()
    parquet.write_bytes(content[: len(content) // 2])
    with pytest.raises(AppsError, match="truncated or altered"):
        read_dataset(out)
    (out / "meta" / "info.json").write_text("{not json")
    with pytest.raises(AppsError, match="not valid JSON"):
        read_dataset(out)
    with pytest.raises(AppsError, match="not a control dataset"):
        read_dataset(tmp_path)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    from plugins.control import dataset

    episodes, info = _record("Maze-v0", 2)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dataset, "_stats", broken)
    with pytest.raises(OSError):
        dataset.write_dataset(tmp_path / "maze", episodes, info)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    dataset.write_dataset(tmp_path / "maze", episodes, info)
    with pytest.raises(AppsError, match="already exists"):
        dataset.write_dataset(tmp_path / "maze", episodes, info)


def tiny_recipe(**overrides):
    from core.recipes import load_recipe
    from plugins.control.recipe import ControlRecipe

    settings = {
        "env": "CartPole-v1",
        "policy": "dt",
        "episodes": 2,
        "context_length": 4,
        "hidden_size": 16,
        "n_layer": 1,
        "n_head": 1,
        "max_steps": 6,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "precision": "fp32",
        "logging_steps": 2,
        "save_steps": 1000,
        "eval_fraction": 0.0,
        "torch_threads": 1,
    }
    settings.update(overrides)
    return load_recipe(ControlRecipe, None, settings)


@pytest.mark.parametrize("env_id,policy", [("CartPole-v1", "dt"), ("Pendulum-v1", "bc"), ("Maze-v0", "dt")])
def test_tiny_policy_trains_through_the_engine_and_plays(tmp_path, env_id, policy, monkeypatch):
    from core import run_training
    from plugins.control.app import ControlApp
    from plugins.control.policies import load_policy
    from plugins.control.rollout import run_episodes, summarize

    episodes = 6 if env_id == "Maze-v0" else 2
    run_dir = run_training(
        ControlApp(),
        tiny_recipe(env=env_id, policy=policy, episodes=episodes),
        run_dir=tmp_path / "run",
        recipe_name="tiny",
    )
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "control.json").is_file()
    log = [json.loads(line) for line in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
    assert log and all(np.isfinite(row["loss"]) for row in log if "loss" in row)
    model = load_policy(run_dir)
    assert model.config.control["env"] == env_id
    summary = summarize(run_episodes(env_id, 2, seed=99, policy=model))
    assert summary["episodes"] == 2 and np.isfinite(summary["mean_return"])
    # 'apps bench control' times the prepared default beside the scripted expert
    monkeypatch.setenv("APPS_HOME", str(tmp_path / "home"))
    with pytest.raises(AppsError, match="no prepared control policy"):
        ControlApp().benchmark()
    default = tmp_path / "home" / "models" / "control" / "default" / env_id
    default.parent.mkdir(parents=True)
    default.symlink_to(run_dir, target_is_directory=True)
    rows = ControlApp().benchmark(episodes=2)
    assert [r["metric"] for r in rows] == ["latency", "throughput"]
    assert all(r["value"] > 0 and r["peer_value"] > 0 and r["peer"] == "scripted expert" for r in rows)
    assert rows[1]["peak_rss_mb"] > 0


def test_dagger_adds_expert_labelled_policy_states(tmp_path):  # with the convolutional maze-view encoder
    from core import run_training
    from plugins.control.app import ControlApp
    from plugins.control.dataset import read_dataset
    from plugins.control.envs import make_env
    from plugins.control.experts import expert_for
    from plugins.control.policies import GridEncoder, load_policy

    recipe = tiny_recipe(env="Maze-v0", episodes=6, dagger_rounds=1, dagger_episodes=3, state_encoder="cnn")
    run_dir = run_training(ControlApp(), recipe, run_dir=tmp_path / "run", recipe_name="tiny")
    encoder = load_policy(run_dir).embed_state
    assert isinstance(encoder, GridEncoder) and (encoder.side, encoder.extra) == (9, 3)  # 9x9 view + goal
    rounds = sorted((run_dir / "dagger").iterdir())
    assert [r.name for r in rounds] == ["step-3"]  # max_steps 6, one round: halfway
    recorded = read_dataset(rounds[0]).episodes
    assert len(recorded) == 3
    env = make_env("Maze-v0")
    for episode in recorded:  # seeds after the expert's 6; the first label is the expert's move
        assert episode.extra["seed"] >= 6
        obs, _ = env.reset(seed=episode.extra["seed"])
        assert np.allclose(episode.observations[0], obs)
        assert episode.actions[0] == expert_for("Maze-v0", env)(obs)


def test_planner_encoder_plans_shortest_moves_on_the_agents_map():
    """With a known cost (walls dear, every other cell 1) the encoder's value iteration must rank the
    expert's move first: this checks the goal's placement, the move order and the un-normalising."""
    import torch
    from torch import nn

    from plugins.control.envs import make_env
    from plugins.control.experts import expert_for
    from plugins.control.policies import PlannerEncoder

    env = make_env("Maze-map-v0")
    obs, _ = env.reset(seed=5)
    state_dim = obs.shape[0]
    mean, std = np.full(state_dim, 0.3, np.float32), np.full(state_dim, 2.0, np.float32)
    control = {
        "state_dim": state_dim,
        "state_mean": mean.tolist(),
        "state_std": std.tolist(),
        "goal_scale": 10,
    }
    encoder = PlannerEncoder(control, hidden_size=8)

    class KnownCost(nn.Module):
        def forward(self, cells):  # channel 0: walls
            return 1.0 + 1000.0 * cells[:, :1]

    encoder.cost, encoder.project = KnownCost(), nn.Identity()
    expert = expert_for("Maze-map-v0", env)
    for _ in range(12):  # along the expert's walk, as the map fills in
        features = encoder(torch.from_numpy((obs - mean) / std)[None])[0]
        advantage = features[:4]
        action = expert(obs)
        assert advantage[action] == advantage.max() == 1.0  # one step nearer the goal
        assert torch.allclose(features[4:], torch.from_numpy(obs[-3:]))
        obs, _, terminated, _, _ = env.step(action)
        if terminated:
            break


def test_planner_policy_trains_saves_and_refuses_non_mazes(tmp_path):
    from core import run_training
    from plugins.control.app import ControlApp
    from plugins.control.policies import PlannerEncoder, load_policy

    recipe = tiny_recipe(env="Maze-map-v0", episodes=4, context_length=1, state_encoder="planner")
    run_dir = run_training(ControlApp(), recipe, run_dir=tmp_path / "run", recipe_name="tiny")
    model = load_policy(run_dir)
    encoder, control = model.embed_state, model.config.control
    assert isinstance(encoder, PlannerEncoder) and (encoder.side, control["goal_scale"]) == (23, 10)
    # its normalisation comes back with the weights (from_pretrained leaves non-persistent buffers empty)
    assert np.allclose(encoder.std, control["state_std"])
    assert np.allclose(encoder.mean, control["state_mean"])
    with pytest.raises(AppsError, match="CartPole-v1 is not a maze"):
        run_training(
            ControlApp(), tiny_recipe(state_encoder="planner"), run_dir=tmp_path / "cp", recipe_name="tiny"
        )


def test_policy_for_another_space_is_refused(tmp_path):
    from core import run_training
    from plugins.control.app import ControlApp

    run_dir = run_training(
        ControlApp(), tiny_recipe(max_steps=2), run_dir=tmp_path / "run", recipe_name="tiny"
    )
    with pytest.raises(AppsError) as error:
        ControlApp().evaluate(env_id="Maze-v0", model=str(run_dir), episodes=1)
    text = str(error.value)
    assert "CartPole-v1" in text and "Discrete(2)" in text and "Discrete(4)" in text and "Box(84,)" in text


def test_dataset_of_another_env_is_refused(tmp_path):
    from plugins.control.dataset import write_dataset
    from plugins.control.training import dataset_for

    episodes, info = _record("Maze-v0", 2)
    write_dataset(tmp_path / "maze", episodes, info)
    with pytest.raises(AppsError, match="recorded in Maze-v0"):
        dataset_for(tiny_recipe(dataset=str(tmp_path / "maze")))
