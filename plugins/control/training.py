"""From a recipe to the engine's TrainingParts: demonstrations -> context windows -> policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from core import AppsError, TrainingParts, data_dir
from plugins.control.dagger import DaggerCallback
from plugins.control.dataset import EpisodeDataset, read_dataset, record_episodes, write_dataset
from plugins.control.policies import build_policy, encode_action


def dataset_for(recipe, progress: bool = True) -> EpisodeDataset:
    """The recipe's dataset folder, or the expert recording it asks for (recorded once, then reused)."""
    if recipe.dataset:
        data = read_dataset(recipe.dataset)
        if data.env != recipe.env:
            raise AppsError(
                f"dataset {recipe.dataset} was recorded in {data.env}, but the recipe trains for "
                f"{recipe.env}",
                hint=f"set env={data.env} or record {recipe.env} with 'apps collect'",
            )
        return data
    folder = data_dir("control") / (
        f"{recipe.env}-expert-{recipe.episodes}ep-noise{recipe.noise:g}-seed{recipe.collect_seed}"
    )
    if not (folder / "meta" / "info.json").is_file():
        episodes, info = record_episodes(
            recipe.env, recipe.episodes, recipe.collect_seed, recipe.noise, progress
        )
        write_dataset(folder, episodes, info, overwrite=True)
    return read_dataset(folder)


def control_config(data: EpisodeDataset, recipe) -> dict:
    """What the policy records about its task (``config.control``): spaces, normalisation, returns."""
    info = data.info
    obs_space, act_space = info["observation_space"], info["action_space"]
    states = np.concatenate([e.observations for e in data.episodes])
    returns = np.array([e.total_return for e in data.episodes])
    discrete = act_space["type"] == "discrete"
    control = {
        "env": data.env,
        "policy": recipe.policy,
        "observation_space": obs_space,
        "action_space": act_space,
        "state_dim": int(np.prod(obs_space["shape"])),
        "discrete": discrete,
        "act_dim": act_space["n"] if discrete else int(np.prod(act_space["shape"])),
        "state_mean": states.mean(0).tolist(),
        "state_std": np.maximum(states.std(0), 1e-3).tolist(),
        "return_scale": float(max(1.0, np.abs(returns).max())),
        "target_return": float(returns.max()),
        "expert_mean_return": float(returns.mean()),
        "context_length": recipe.context_length,
        "state_encoder": recipe.state_encoder,
        "max_ep_len": _episode_limit(data) + 1,
        "dataset": str(data.path),
        "episodes": len(data.episodes),
    }
    if not discrete:
        control["action_low"], control["action_high"] = act_space["low"], act_space["high"]
    if recipe.state_encoder == "planner":
        control["goal_scale"] = _goal_scale(data.env)
    return control


def _goal_scale(env_id: str) -> int:
    """How many cells one unit of a maze observation's goal offset is (the maze size)."""
    from plugins.control.envs import make_env

    env = make_env(env_id)
    size = getattr(env.unwrapped, "size", None)
    env.close()
    if size is None:
        raise AppsError(
            f"state_encoder=planner plans over a maze map, and {env_id} is not a maze",
            hint="use it with Maze-map-v0 (or another maze environment), or choose state_encoder=mlp",
        )
    return int(size)


def _episode_limit(data: EpisodeDataset) -> int:
    from plugins.control.envs import make_env

    longest = max(e.length for e in data.episodes)
    try:
        env = make_env(data.env)
    except AppsError:  # an environment no longer installed: size the time embedding from the data
        return 2 * longest
    limit = env.spec.max_episode_steps if env.spec else None
    limit = limit or getattr(env.unwrapped, "max_steps", None) or 2 * longest
    env.close()
    return int(max(limit, longest))


class WindowDataset(torch.utils.data.Dataset):
    """Every step of every episode as the last step of a ``context``-long window (left-padded)."""

    def __init__(self, episodes, control: dict, kind: str):
        self.kind, self.k, self.control = kind, control["context_length"], control
        self.discrete = control["discrete"]
        self.states, self.actions, self.labels, self.returns, self.index = [], [], [], [], []
        self.extend(episodes)

    def extend(self, episodes) -> None:
        """Add episodes (DAgger adds the expert-labelled states its policy visited while training)."""
        control = self.control
        mean = np.asarray(control["state_mean"], np.float32)
        std = np.asarray(control["state_std"], np.float32)
        for episode in episodes:
            self.index += [(len(self.states), t) for t in range(episode.length)]
            self.states.append((episode.observations - mean) / std)
            self.actions.append(np.stack([encode_action(a, control) for a in episode.actions]))
            self.labels.append(episode.actions.astype(np.int64) if self.discrete else self.actions[-1])
            rewards = episode.rewards.astype(np.float64)
            self.returns.append((np.cumsum(rewards[::-1])[::-1] / control["return_scale"]).astype(np.float32))

    def __len__(self):
        return len(self.index)

    def __getitem__(self, item):
        e, t = self.index[item]
        k, start = self.k, max(0, self.index[item][1] - self.k + 1)
        n = t + 1 - start
        states = np.zeros((k, self.states[e].shape[1]), np.float32)
        states[k - n :] = self.states[e][start : t + 1]
        mask = np.zeros(k, np.float32)
        mask[k - n :] = 1
        if self.discrete:
            labels = np.zeros(k, np.int64)
            labels[k - n :] = self.labels[e][start : t + 1]
        else:
            labels = np.zeros((k, self.actions[e].shape[1]), np.float32)
            labels[k - n :] = self.labels[e][start : t + 1]
        item = {"states": states, "attention_mask": mask, "labels": labels}
        if self.kind == "dt":
            actions = np.zeros((k, self.actions[e].shape[1]), np.float32)
            actions[k - n :] = self.actions[e][start : t + 1]
            returns = np.zeros((k, 1), np.float32)
            returns[k - n :, 0] = self.returns[e][start : t + 1]
            steps = np.zeros(k, np.int64)
            steps[k - n :] = np.arange(start, t + 1)
            item.update(actions=actions, returns_to_go=returns, timesteps=steps)
        return {name: torch.from_numpy(value) for name, value in item.items()}


def collate(items: list[dict]) -> dict:
    return {name: torch.stack([item[name] for item in items]) for name in items[0]}


def training_parts(recipe):
    if recipe.policy == "instruct":
        from plugins.control.instruct_training import training_parts as instruct_parts

        return instruct_parts(recipe)
    if recipe.finetune != "full":
        raise AppsError(
            f"control policies are trained from scratch; finetune: {recipe.finetune} does not apply",
            hint="use finetune: full",
        )
    if recipe.torch_threads > 0:
        torch.set_num_threads(recipe.torch_threads)
    data = dataset_for(recipe)
    control = control_config(data, recipe)
    rng = np.random.default_rng(recipe.seed)
    order = rng.permutation(len(data.episodes))
    held = (
        max(1, int(round(recipe.eval_fraction * len(order))))
        if recipe.eval_fraction > 0 and len(order) > 1
        else 0
    )
    train_eps = [data.episodes[i] for i in order[held:]]
    eval_eps = [data.episodes[i] for i in order[:held]]
    torch.manual_seed(recipe.seed)
    model = build_policy(
        recipe.policy,
        control,
        recipe.hidden_size,
        recipe.n_layer,
        recipe.n_head,
        recipe.context_length,
        recipe.dropout,
        control["max_ep_len"],
    )

    train_dataset = WindowDataset(train_eps, control, recipe.policy)
    callbacks = [DaggerCallback(recipe, train_dataset)] if recipe.dagger_rounds > 0 else []

    def save(run_dir: Path):
        (Path(run_dir) / "control.json").write_text(json.dumps(control, indent=2))

    return TrainingParts(
        model=model,
        train_dataset=train_dataset,
        callbacks=callbacks,
        eval_dataset=WindowDataset(eval_eps, control, recipe.policy) if eval_eps else None,
        data_collator=collate,
        save=save,
        metadata={
            "env": recipe.env,
            "policy": recipe.policy,
            "episodes": len(data.episodes),
            "observation_space": control["observation_space"],
            "action_space": control["action_space"],
            "dataset": str(data.path),
        },
    )
