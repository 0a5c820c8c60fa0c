"""The arm (Meta-World MT10): task words, environments, experts. Meta-World / WordNet tests skip without them."""

import importlib.util

import numpy as np
import pytest

from core import AppsError, get_manager
from plugins.control.language import tokenize, wordnet_dir
from plugins.control.tasks import INSTRUCTIONS, SHARED_PAIRS, closest_tasks

needs_metaworld = pytest.mark.skipif(
    importlib.util.find_spec("metaworld") is None, reason="metaworld not installed (pip install metaworld)"
)
needs_wordnet = pytest.mark.skipif(
    wordnet_dir() is None, reason="WordNet not installed (apt-get install wordnet-base)"
)


def control_app():
    return get_manager().app("control")


def test_command_keeps_canonical_instructions_and_steering_words():
    app = control_app()
    for instruction in INSTRUCTIONS.values():
        assert app.command(instruction) == instruction
    assert app.command("please turn left") == "left"
    assert app.command("stop") == "stop"
    assert app.command("what a lovely day") is None
    assert app.command("open") is None  # no object named: nothing the arm can do


def test_an_instruction_from_another_app_reaches_a_running_arm():
    from plugins.control import steering

    commands = steering.listen()
    try:
        assert steering.submit_result({"text": "pull the drawer open"}, source="asr") == "open the drawer"
        steering.submit_result({"text": "turn left"}, source="chat")
        assert steering.drain(commands) == ["open the drawer", "left"]
    finally:
        steering.unlisten(commands)


def test_command_refuses_a_task_that_does_not_exist():
    assert control_app().command("close the door") is None  # only opening the door is a task


@needs_wordnet
def test_command_understands_synonyms_through_wordnet():
    app = control_app()
    assert app.command("shut the window") == "close the window"
    assert app.command("please shut the drawers") == "close the drawer"
    assert closest_tasks("shove the puck to the goal")[0][1] == "push-v3"


@needs_wordnet
def test_tokenize_brings_unknown_words_to_known_ones():
    vocabulary = {"the", "close", "drawer", "open"}
    assert tokenize("Shut the drawers", vocabulary) == ["close", "the", "drawer"]
    assert tokenize("xyzzy the drawer", vocabulary) == ["<unk>", "the", "drawer"]
    assert tokenize("slide the drawer shut", vocabulary) == ["<unk>", "the", "drawer", "close"]  # "closed"


@needs_wordnet
def test_tokenize_reads_a_command_verb_as_a_verb_and_defines_it():
    vocabulary = {"the", "push", "place", "peg", "puck", "button", "and", "it"}
    # a verb is defined by a more general one: nudge is "push against gently"
    assert tokenize("nudge the puck", vocabulary) == ["push", "the", "puck"]
    # "stick" shares a synset with the noun "peg", but a command starts with a verb
    assert tokenize("stick the peg", vocabulary)[0] != "peg"
    # only the first word of a clause is read as a verb: "down" is not "set down" -> place
    assert tokenize("push the button down", vocabulary) == ["push", "the", "button", "<unk>"]
    assert tokenize("lift the puck and put it", vocabulary)[-2:] == ["place", "it"]
    # a synonym through a rare sense misleads: "touch" is "reach" only in its ninth sense
    assert tokenize("touch the goal", {"reach", "the", "goal"}) == ["<unk>", "the", "goal"]


@needs_wordnet
def test_training_swaps_are_synonyms_and_more_general_words_of_common_senses():
    from plugins.control.language import vocabulary_swaps, wordnet

    assert "put" in wordnet().hypernyms("insert")  # insert is a way to put
    vocabulary = ["insert", "place", "press", "push", "reach", "open", "close", "the", "drawer"]
    swaps = vocabulary_swaps(vocabulary)
    assert swaps["insert"] == ["place"] and swaps["press"] == ["push"]
    assert "reach" not in swaps  # "push" generalises reach only in its ninth sense
    assert "open" not in swaps and "close" not in swaps  # opposites never swap


@needs_metaworld
def test_mt10_environments_are_registered_seeded_and_end_on_success():
    from plugins.control.envs import known_envs, make_env
    from plugins.control.experts import expert_for

    known = known_envs()
    assert set(INSTRUCTIONS) <= set(known)
    env = make_env("reach-v3")
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    other, _ = env.reset(seed=4)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    obs, _ = env.reset(seed=3)
    expert = expert_for("reach-v3", env)
    for _ in range(500):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    assert terminated and info["success"]
    env.close()


@needs_metaworld
def test_shared_starts_are_the_same_state_and_hide_the_goal():
    from plugins.control.envs import make_env

    for opener, closer in SHARED_PAIRS:
        a, b = make_env(opener), make_env(closer)
        obs_a, _ = a.reset(seed=11)
        obs_b, _ = b.reset(seed=11)
        assert np.array_equal(obs_a, obs_b) and not obs_a[-3:].any()
        assert a.unwrapped.instruction != b.unwrapped.instruction
        a.close()
        b.close()


@needs_metaworld
def test_suite_demonstrations_carry_their_instruction(tmp_path, monkeypatch):
    import json

    import pandas as pd

    from plugins.control import suite
    from plugins.control.dataset import read_dataset

    monkeypatch.setitem(suite.SUITES, "tiny", ["reach-v3", "drawer-close-shared-v3"])
    summary = suite.collect_suite("tiny", 1, out=tmp_path / "demos", seed=0, noise=0.1)
    assert summary["episodes"] == 2 and summary["success_rate"] == 1.0
    data = read_dataset(tmp_path / "demos")
    assert [e.extra["instruction"] for e in data.episodes] == ["reach to the goal", "close the drawer"]
    tasks = [json.loads(line) for line in (tmp_path / "demos/meta/tasks.jsonl").read_text().splitlines()]
    assert [t["task"] for t in tasks] == ["reach to the goal", "close the drawer"]
    frame = pd.read_parquet(tmp_path / "demos/data")
    assert sorted(frame["task_index"].unique()) == [0, 1]
    assert frame.groupby("episode_index")["task_index"].nunique().max() == 1


def test_unknown_task_lists_known_ones():
    from plugins.control.envs import env_entry

    with pytest.raises(AppsError) as caught:
        env_entry("drawer-opn-v3")
    assert "drawer-open-v3" in str(caught.value.hint)
