"""The instruction-conditioned arm policy (recipe mt10-instruct): a tiny one trains through the engine, plays
with any wording, and the suite evaluation reports every part. Skips without metaworld."""

import importlib.util
import json

import numpy as np
import pytest

from core import AppsError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("metaworld") is None, reason="metaworld not installed (pip install metaworld)"
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from core import load_recipe, run_training
    from plugins.control import suite
    from plugins.control.app import ControlApp
    from plugins.control.recipe import ControlRecipe

    root = tmp_path_factory.mktemp("instruct")
    settings = {
        "env": "tiny",
        "policy": "instruct",
        "dataset": str(root / "demos"),
        "context_length": 2,
        "chunk": 2,
        "hidden_size": 16,
        "n_layer": 1,
        "n_head": 2,
        "max_steps": 4,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "precision": "fp32",
        "logging_steps": 2,
        "save_steps": 1000,
        "eval_fraction": 0.0,
        "torch_threads": 1,
        "dagger_rounds": 1,
        "dagger_episodes": 1,
    }
    recipe = load_recipe(ControlRecipe, None, settings)
    suite.SUITES["tiny"] = ["reach-v3", "drawer-open-shared-v3", "drawer-close-shared-v3"]
    try:
        suite.collect_suite("tiny", 1, out=root / "demos", seed=0, noise=0.1)
        return run_training(ControlApp(), recipe, run_dir=root / "run", recipe_name="tiny"), root
    finally:
        del suite.SUITES["tiny"]


def test_instructed_policy_trains_saves_and_plays_any_wording(tiny_run):
    from plugins.control.policies import load_policy, runner_for
    from plugins.control.rollout import run_episodes

    run_dir, _ = tiny_run
    log = [json.loads(line) for line in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
    assert log and all(np.isfinite(row["loss"]) for row in log if "loss" in row)
    model = load_policy(run_dir)
    control = model.config.control
    assert control["policy"] == "instruct" and control["instructions"]["reach-v3"] == "reach to the goal"
    assert {"open", "drawer", "reach", "<unk>"} <= set(model.config.vocab)
    runner = runner_for(model, 2, "drawer-open-shared-v3")
    obs = np.zeros((2, control["state_dim"]))
    first = runner.act(list(obs))
    runner.set_instructions(["close the drawer", "slide the drawer shut"])
    second = runner.act(list(obs))
    assert all(a.shape == (4,) and np.all(np.abs(a) <= 1) for a in first + second)
    rows = run_episodes("reach-v3", 1, seed=1_000_000, policy=model, instruction="reach for the goal")
    assert rows[0]["length"] >= 1 and rows[0]["success"] in (True, False)


def test_dagger_rounds_label_the_policys_own_states_with_the_expert(tiny_run):
    from plugins.control.dataset import read_dataset
    from plugins.control.envs import make_env
    from plugins.control.experts import expert_for

    run_dir, _ = tiny_run
    (round_dir,) = (run_dir / "dagger").iterdir()  # one round, at step 4 // 2
    played = read_dataset(round_dir)
    # new seeds, after the recipe's demonstration seeds (collect_seed 0 + episodes 100)
    assert played.info["policy"] == "dagger round at step 2" and played.info["seed"] == 100
    assert [e.extra["env"] for e in played.episodes] == [
        "reach-v3",
        "drawer-open-shared-v3",
        "drawer-close-shared-v3",
    ]
    assert played.episodes[2].extra["instruction"] == "close the drawer"
    env = make_env("drawer-close-shared-v3")
    expert = expert_for("drawer-close-shared-v3", env)
    episode = played.episodes[2]
    for t in (0, episode.length // 2, episode.length - 1):  # the expert's action where the policy was
        assert np.allclose(expert(episode.observations[t]), episode.actions[t], atol=1e-5)
    env.close()


def test_training_rewordings_use_only_the_instructions_words(tiny_run):
    from plugins.control.dataset import read_dataset
    from plugins.control.instruct import InstructPolicyConfig
    from plugins.control.instruct_training import ChunkDataset, instruct_config, vocabulary
    from plugins.control.recipe import ControlRecipe

    _, root = tiny_run
    data = read_dataset(root / "demos")
    control = instruct_config(data, ControlRecipe(env="tiny", policy="instruct", context_length=2))
    config = InstructPolicyConfig(vocab=vocabulary(control["instructions"].values()), history=2, chunk=2)
    dataset = ChunkDataset(data.episodes, control, config, vary=1.0, seed=0)
    seen = {w for _ in range(200) for w in dataset.wording("open the drawer").split()}
    assert seen <= set(config.vocab) | {"xunknownx"} and "drawer" in seen
    item = dataset[0]
    assert item["states"].shape == (2, 39) and item["labels"].shape == (2, 4)


def test_suite_evaluation_reports_tasks_shared_starts_and_paraphrases(tiny_run, monkeypatch):
    from plugins.control import suite_eval
    from plugins.control.policies import load_policy
    from plugins.control.tasks import SHARED_PAIRS

    run_dir, _ = tiny_run
    monkeypatch.setattr(suite_eval, "MT10", ["reach-v3"])
    monkeypatch.setattr(suite_eval, "SHARED_PAIRS", SHARED_PAIRS[:1])
    monkeypatch.setattr(
        suite_eval,
        "PARAPHRASE_SETS",
        [{"reach-v3": "reach for the goal"}, {"reach-v3": "move the arm to the goal"}],
    )
    report = suite_eval.evaluate_suite(load_policy(run_dir), run_dir, episodes=1)
    assert report["tasks"]["reach-v3"]["expert"] == 1.0
    assert set(report["shared_start"]) == {"drawer-open-shared-v3", "drawer-close-shared-v3"}
    first, second = report["paraphrase_sets"]
    assert first["tasks"]["reach-v3"]["instruction"] == "reach for the goal"
    assert second["tasks"]["reach-v3"]["instruction"] == "move the arm to the goal"
    assert "1000000" in report["held_out"] and len(report["goals"]) == 4
    text = suite_eval.suite_table(report)
    assert "shared starts" in text and "paraphrase mean, set 2" in text


def test_say_picks_the_task_or_lists_the_closest():
    from plugins.control.live import task_to_say

    assert task_to_say("pull the drawer open", None) == "drawer-open-v3"
    assert task_to_say("do it", "drawer-close-shared-v3") == "drawer-close-shared-v3"
    with pytest.raises(AppsError) as caught:
        task_to_say("sing a song", None)
    assert "reach-v3" in caught.value.hint
    with pytest.raises(AppsError, match="not an arm task"):
        task_to_say("open the drawer", "CartPole-v1")
