"""The chat app's training recipe (``ChatRecipe``) and where its shipped recipes live."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from core import Recipe

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class ChatRecipe(Recipe):
    """Chat fine-tuning (LLaMA-Factory's names where they exist) and the miniature pretraining."""

    task: str = "sft"  # sft (instruction tuning) | pretrain (the miniature English base, from scratch)
    template: str = "default"
    dataset_dir: Union[str, None] = None  # noqa: UP007  (folder with LLaMA-Factory's dataset_info.json)
    eval_dataset: Union[str, None] = None  # noqa: UP007
    val_size: float = 0.0
    max_samples: Union[int, None] = None  # noqa: UP007
    cutoff_len: int = 1024
    on_error: str = "skip"  # malformed records: skip (reported with file:line) | fail
    replay_english: float = 0.0  # English text blocks mixed in, as a share of the chat samples
    # zh-instruct: its training split N times as large (generated questions and the commands' composed
    # wrappers newly drawn, hand-written records repeated): one epoch over 3 draws meets 3x the questions
    domain_draws: int = 1
    extend_vocab: int = 0  # add up to N Chinese tokens learned from the training set
    vocab_size: int = 2048  # pretrain: byte-level BPE vocabulary
    model_config: dict[str, Any] = field(default_factory=dict)  # pretrain: PhiConfig overrides
    arithmetic_text: int = 0  # pretrain: worked English arithmetic problems (training pairs) in the corpus

    CHOICES: typing.ClassVar[dict[str, tuple[str, ...]]] = {
        **Recipe.CHOICES,
        "task": ("sft", "pretrain"),
        "on_error": ("skip", "fail"),
    }


def settings_for_profile(profile) -> dict:
    """Recipe settings for training on a device ``profile``: on a Jetson, whose CPU and GPU share the
    board's memory, smaller batches, shorter samples and gradient checkpointing as the memory shrinks
    (batch x accumulation stays 16, so the optimisation matches the phi15-zh-lora baseline)."""
    if profile.accelerator != "jetson":
        return {}
    if profile.memory_gb <= 8:
        return {
            "batch_size": 1,
            "gradient_accumulation_steps": 16,
            "cutoff_len": 512,
            "gradient_checkpointing": True,
            "precision": "fp16",
        }
    if profile.memory_gb <= 16:
        return {
            "batch_size": 2,
            "gradient_accumulation_steps": 8,
            "cutoff_len": 768,
            "gradient_checkpointing": True,
            "precision": "fp16",
        }
    return {"batch_size": 2, "gradient_accumulation_steps": 8, "cutoff_len": 1024, "precision": "fp16"}
