"""control plugin through the command line: collect, train, eval --json, run --render out.gif, steering."""

from __future__ import annotations

import json
import queue

import pytest
from click.testing import CliRunner

from core.cli import cli

pytest.importorskip("gymnasium")
pytest.importorskip("pyarrow")


def invoke(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)
    return result


def last_json(output: str):
    start = output.index("{")
    return json.loads(output[start:])


def test_collect_writes_a_dataset_and_refuses_unknown_envs(tmp_path):
    out = tmp_path / "maze-data"
    result = invoke("collect", "control", "--env", "Maze-v0", "--episodes", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["episodes"] == 3 and summary["success_rate"] == 1.0
    assert (out / "meta" / "info.json").is_file()
    again = invoke("collect", "control", "--env", "Maze-v0", "--episodes", "3", "--out", str(out))
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    bad = invoke("collect", "control", "--env", "Mazee-v0", "--episodes", "1", "--out", str(tmp_path / "x"))
    assert bad.exit_code != 0 and "Maze-v0" in str(bad.exception) and "CartPole-v1" in str(bad.exception)
    assert not (tmp_path / "x").exists()


def test_train_eval_json_and_run_gif(tmp_path):
    run_dir = tmp_path / "run"
    trained = invoke(
        "train",
        "control",
        "--recipe",
        "dt-cartpole",
        "-o",
        str(run_dir),
        "episodes=2",
        "max_steps=4",
        "hidden_size=16",
        "n_layer=1",
        "n_head=1",
        "context_length=4",
        "eval_fraction=0.0",
        "logging_steps=2",
    )
    assert trained.exit_code == 0, trained.output
    evaluated = invoke("eval", "control", "--model", str(run_dir), "--episodes", "2", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    report = last_json(evaluated.output)
    assert report["env"] == "CartPole-v1" and report["policy"]["episodes"] == 2
    assert report["expert"]["success_rate"] == 1.0 and report["expert"]["mean_return"] == 500.0
    gif = tmp_path / "cartpole.gif"
    ran = invoke(
        "run", "control", "--model", str(run_dir), "--render", str(gif), "--max-steps", "15", "--json"
    )
    assert ran.exit_code == 0, ran.output
    from PIL import Image

    with Image.open(gif) as picture:
        assert picture.n_frames == 16  # the first picture plus one per step


def test_run_maze_expert_gif_and_missing_default(tmp_path):
    gif = tmp_path / "maze.gif"
    ran = invoke("run", "control", "--env", "Maze-v0", "--expert", "--render", str(gif), "--json")
    assert ran.exit_code == 0, ran.output
    row = json.loads([line for line in ran.output.splitlines() if line.startswith("{")][-1])
    assert row["success"] and row["path_ratio"] == 1.0
    assert gif.stat().st_size > 1000
    missing = invoke("run", "control", "--env", "Maze-v0")
    assert missing.exit_code != 0 and "apps prepare control" in str(missing.exception)


def test_steering_words_reach_a_running_app():
    from core.app import App
    from core.plugins import get_manager
    from plugins.control import steering

    assert steering.parse_command("please turn LEFT") == "left"
    assert steering.parse_command("hello there") is None
    commands = steering.listen()
    try:

        class Asr(App):
            name = "asr"

        get_manager().notify_result(Asr(), {"text": "turn left"}, {"source": "mic", "time": 0})
        get_manager().notify_result(Asr(), {"text": "and stop"}, {"source": "mic", "time": 0})
        assert steering.drain(commands) == ["left", "stop"]
    finally:
        steering.unlisten(commands)


def test_run_obeys_steering_commands(monkeypatch):
    from plugins.control import steering
    from plugins.control.app import ControlApp
    from plugins.control.live import run_live

    prefilled: queue.Queue = queue.Queue()
    for word in ("left", "left", "pause", "go", "stop"):
        prefilled.put(word)
    # deliver one command per step, as a speaker would
    monkeypatch.setattr(steering, "listen", lambda: prefilled)
    monkeypatch.setattr(steering, "drain", lambda q: [q.get_nowait()] if not q.empty() else [])
    rows = run_live(ControlApp(), "Maze-v0", None, episodes=1, seed=5)
    assert rows[0]["manual_steps"] == 2 and rows[0]["stopped"]
    assert rows[0]["length"] == 3  # two steered moves, then one expert step after "go"
