"""From a recipe to the engine's TrainingParts for the instruction-conditioned policy (``policy: instruct``).

The data: a suite's demonstrations (``apps collect control --env mt10``), each episode with its instruction.
Every step is one example: the instruction, the last ``context_length`` states, and the expert's next
``chunk`` actions. While training, the instruction's wording varies (WordNet synonyms among the known words,
content words made unknown, function words dropped or inserted, unknown words inserted) so that the policy
reads what the words mean rather than one fixed string; no evaluation paraphrase is ever seen.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from core import AppsError, TrainingParts
from plugins.control.dataset import EpisodeDataset, read_dataset, write_dataset
from plugins.control.instruct import InstructPolicy, InstructPolicyConfig, encode_words
from plugins.control.language import PAD, STOPWORDS, UNK, object_word, vocabulary_swaps, words

UNKNOWN = "xunknownx"  # stands for any word WordNet cannot place
# in a reworded instruction: the chance that a content word, or the object, is made unknown
UNKNOWN_WORD, UNKNOWN_OBJECT = 0.3, 0.1


def suite_dataset(recipe, progress: bool = True) -> EpisodeDataset:
    """The recipe's dataset folder, or the suite's expert recording it asks for (recorded once, then reused)."""
    from plugins.control.suite import record_suite, suite_dataset_path

    if recipe.dataset:
        data = read_dataset(recipe.dataset)
    else:
        folder = suite_dataset_path(recipe.env, recipe.episodes, recipe.noise, recipe.collect_seed)
        if not (folder / "meta" / "info.json").is_file():
            episodes, info = record_suite(
                recipe.env, recipe.episodes, recipe.collect_seed, recipe.noise, progress
            )
            write_dataset(folder, episodes, info, overwrite=True)
        data = read_dataset(folder)
    missing = [n for n, e in enumerate(data.episodes) if "instruction" not in e.extra]
    if missing:
        raise AppsError(
            f"{data.path}: episode {missing[0]} has no instruction; policy: instruct learns from "
            "instruction-labelled demonstrations",
            where=str(data.path / "meta" / "episodes.jsonl"),
            hint="record them with 'apps collect control --env mt10' (or add an instruction to every episode)",
        )
    return data


def instruct_config(data: EpisodeDataset, recipe) -> dict:
    """``config.control`` of the policy: spaces, normalisation, its instructions and environments."""
    info = data.info
    states = np.concatenate([e.observations for e in data.episodes])
    instructions = {}
    for episode in data.episodes:
        instructions.setdefault(episode.extra.get("env", data.env), episode.extra["instruction"])
    return {
        "env": data.env,
        "policy": "instruct",
        "observation_space": info["observation_space"],
        "action_space": info["action_space"],
        "state_dim": int(np.prod(info["observation_space"]["shape"])),
        "act_dim": int(np.prod(info["action_space"]["shape"])),
        "discrete": False,
        "action_low": info["action_space"]["low"],
        "action_high": info["action_space"]["high"],
        "state_mean": states.mean(0).tolist(),
        "state_std": np.maximum(states.std(0), 1e-3).tolist(),
        "context_length": recipe.context_length,
        "instructions": instructions,
        "dataset": str(data.path),
        "episodes": len(data.episodes),
    }


def vocabulary(instructions) -> list[str]:
    return [PAD, UNK, *sorted({w for text in instructions for w in words(text)})]


class ChunkDataset(torch.utils.data.Dataset):
    """Every step of every episode: (instruction words, recent states) -> the expert's next actions."""

    def __init__(self, episodes, control: dict, config: InstructPolicyConfig, vary: float, seed: int):
        self.config, self.vary = config, vary
        self.rng = np.random.default_rng(seed)
        self.mean = np.asarray(control["state_mean"], np.float32)
        self.std = np.asarray(control["state_std"], np.float32)
        self.states, self.actions, self.instructions, self.index = [], [], [], []
        self.swaps = vocabulary_swaps(config.vocab)
        # inserted anywhere, so that no task owns a function word ("and" is not pick-place's cue)
        self.function_words = [w for w in config.vocab if w in STOPWORDS] or [UNKNOWN]
        self.extend(episodes)

    def extend(self, episodes) -> None:
        """Add episodes (DAgger adds the expert-labelled states its policy visited while training)."""
        for episode in episodes:
            self.index += [(len(self.states), t) for t in range(episode.length)]
            self.states.append((episode.observations - self.mean) / self.std)
            self.actions.append(np.clip(episode.actions, -1.0, 1.0).astype(np.float32))
            self.instructions.append(episode.extra["instruction"])

    def __len__(self):
        return len(self.index)

    def wording(self, instruction: str) -> str:
        """The instruction, reworded with probability ``vary``: WordNet synonym or more general word swaps
        (not of the object), content words made unknown (word dropout: a sentence with a verb or object the
        policy never learned must still lead somewhere sensible, from the words it knows and the scene),
        dropped function words, and up to two unknown or function words inserted."""
        if self.rng.random() >= self.vary:
            return instruction
        rng, keep = self.rng, object_word(instruction)
        out = []
        for word in words(instruction):
            if word in STOPWORDS:
                if rng.random() < 0.3:
                    continue
            elif rng.random() < (UNKNOWN_OBJECT if word == keep else UNKNOWN_WORD):
                word = UNKNOWN
            elif word != keep and word in self.swaps and rng.random() < 0.5:
                word = self.swaps[word][rng.integers(len(self.swaps[word]))]
            out.append(word)
        for _ in range(rng.integers(3)):
            filler = (
                UNKNOWN if rng.random() < 0.5 else self.function_words[rng.integers(len(self.function_words))]
            )
            out.insert(int(rng.integers(len(out) + 1)), filler)
        return " ".join(out)

    def __getitem__(self, item):
        n, t = self.index[item]
        k, chunk = self.config.history, self.config.chunk
        start = max(0, t - k + 1)
        states = np.zeros((k, self.states[n].shape[1]), np.float32)
        states[k - (t + 1 - start) :] = self.states[n][start : t + 1]
        state_mask = np.zeros(k, np.float32)
        state_mask[k - (t + 1 - start) :] = 1
        future = self.actions[n][t : t + chunk]
        labels = np.zeros((chunk, future.shape[1]), np.float32)
        labels[: len(future)] = future
        label_mask = np.zeros(chunk, np.float32)
        label_mask[: len(future)] = 1
        ids, word_mask = encode_words(
            self.wording(self.instructions[n]), self.config.vocab, self.config.max_words
        )
        return {
            "words": torch.from_numpy(ids),
            "word_mask": torch.from_numpy(word_mask),
            "states": torch.from_numpy(states),
            "state_mask": torch.from_numpy(state_mask),
            "labels": torch.from_numpy(labels),
            "label_mask": torch.from_numpy(label_mask),
        }


def collate(items: list[dict]) -> dict:
    return {name: torch.stack([item[name] for item in items]) for name in items[0]}


def training_parts(recipe):
    if recipe.torch_threads > 0:
        torch.set_num_threads(recipe.torch_threads)
    data = suite_dataset(recipe)
    control = instruct_config(data, recipe)
    rng = np.random.default_rng(recipe.seed)
    order = rng.permutation(len(data.episodes))
    held = max(1, int(round(recipe.eval_fraction * len(order)))) if recipe.eval_fraction > 0 else 0
    train_eps = [data.episodes[i] for i in order[held:]]
    eval_eps = [data.episodes[i] for i in order[:held]]
    torch.manual_seed(recipe.seed)
    config = InstructPolicyConfig(
        vocab=vocabulary(control["instructions"].values()),
        state_dim=control["state_dim"],
        act_dim=control["act_dim"],
        hidden_size=recipe.hidden_size,
        n_layer=recipe.n_layer,
        n_head=recipe.n_head,
        history=recipe.context_length,
        chunk=recipe.chunk,
        dropout=recipe.dropout,
    )
    config.control = control
    model = InstructPolicy(config)

    def save(run_dir: Path):
        (Path(run_dir) / "control.json").write_text(json.dumps(control, indent=2))

    train_dataset = ChunkDataset(train_eps, control, config, recipe.vary_wording, recipe.seed)
    callbacks = []
    if recipe.dagger_rounds > 0:
        from plugins.control.dagger import DaggerCallback
        from plugins.control.suite import play_suite

        def play(policy, episodes, seed):
            return play_suite(recipe.env, policy, episodes, seed)

        callbacks.append(DaggerCallback(recipe, train_dataset, play))
    return TrainingParts(
        model=model,
        train_dataset=train_dataset,
        callbacks=callbacks,
        eval_dataset=ChunkDataset(eval_eps, control, config, 0.0, recipe.seed) if eval_eps else None,
        data_collator=collate,
        save=save,
        metadata={
            "env": recipe.env,
            "policy": "instruct",
            "episodes": len(data.episodes),
            "instructions": sorted(set(control["instructions"].values())),
            "observation_space": control["observation_space"],
            "action_space": control["action_space"],
            "dataset": str(data.path),
        },
    )
