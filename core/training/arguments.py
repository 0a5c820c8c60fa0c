"""From a recipe to ``transformers.TrainingArguments``: precision, step counts (for the warmup), evaluation,
checkpoint and early-stopping schedules, and the batch keys that hold the labels."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from core.errors import AppsError
from core.training.parts import TrainingParts

# Activation checkpointing recomputes each block in backward, reentrantly (torch.utils.checkpoint's autograd
# Function), as LLaMA-Factory does: LoRA at Phi-1.5 width on the CPU ran 0.19 samples/s against 0.15 for the
# non-reentrant form, at 140-170 MiB less peak RSS (benchmarks/train_vs_llamafactory.py, docs/chat.md).
# Gradients then pass only through blocks whose input needs one: finetune.prepare_model marks a frozen
# embedding's output.
CHECKPOINTING = {"use_reentrant": True}


def training_dtype(recipe, device):
    """The recipe's precision on ``device`` (``auto`` resolved), refused where the device cannot train in it."""
    from core.device import resolve_dtype

    dtype = resolve_dtype(recipe.precision, device)
    _check_precision(dtype, device)
    return dtype


def label_names(parts: TrainingParts) -> list[str] | None:
    """The batch keys holding the labels: the app's, else those the model's ``forward`` names."""
    try:
        from transformers.utils.generic import find_labels

        return parts.label_names or find_labels(type(parts.model)) or None
    except ImportError:
        return parts.label_names


def _training_steps(recipe, dataset_size: int, world: int) -> int:
    """Optimizer steps the run will take: ``max_steps``, else the epochs over ``world`` devices."""
    if recipe.max_steps > 0:
        return recipe.max_steps
    per_step = recipe.batch_size * world
    batches = math.ceil(dataset_size / per_step)
    return max(1, math.ceil(recipe.num_epochs * max(1, batches // recipe.gradient_accumulation_steps)))


def _check_precision(dtype, device) -> None:
    """fp16 needs a GPU (CPUs train in bf16 or fp32), and bf16 a GPU that has it."""
    import torch

    if device.type == "cpu" and dtype == torch.float16:
        raise AppsError(
            "precision fp16 needs a CUDA device", hint="use precision=bf16 or precision=fp32 on a CPU"
        )
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise AppsError("this GPU has no bf16", hint="use precision=fp16")


def training_arguments(recipe, parts: TrainingParts, run_dir: Path, device, dtype, labels: list[str] | None):
    """The Trainer's arguments for ``recipe``: evaluation only when the app gives an evaluation set, saves
    at the evaluations when early stopping keeps the best model, mixed precision from ``dtype``."""
    import torch
    from transformers import TrainingArguments

    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps = _training_steps(recipe, len(parts.train_dataset), world)
    has_eval = parts.eval_dataset is not None and len(parts.eval_dataset) > 0
    if recipe.early_stopping_patience and not has_eval:
        raise AppsError("early_stopping_patience needs an evaluation set, and this app gave none")
    eval_strategy = ("steps" if recipe.eval_steps else "epoch") if has_eval else "no"
    early = bool(recipe.early_stopping_patience)
    save_steps = recipe.save_steps
    if early and eval_strategy == "steps":
        save_steps = recipe.eval_steps  # load_best_model_at_end needs saves at the evaluations
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir),
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size or recipe.batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        num_train_epochs=recipe.num_epochs,
        max_steps=recipe.max_steps,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=math.ceil(recipe.warmup_ratio * steps) if recipe.warmup_ratio > 0 else 0,
        logging_strategy="steps",
        logging_steps=recipe.logging_steps,
        save_strategy="epoch" if early and eval_strategy == "epoch" else "steps",
        save_steps=save_steps,
        save_total_limit=recipe.save_total_limit,
        eval_strategy=eval_strategy,
        eval_steps=recipe.eval_steps,
        load_best_model_at_end=early,
        metric_for_best_model=(recipe.metric_for_best_model or "eval_loss")
        if early
        else recipe.metric_for_best_model,
        seed=recipe.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        dataloader_num_workers=recipe.dataloader_workers,
        report_to="none",
        remove_unused_columns=parts.remove_unused_columns,
        label_names=labels,
        use_cpu=device.type == "cpu",
        ddp_backend="gloo" if device.type == "cpu" and world > 1 else None,
        disable_tqdm=False,
    )
    if recipe.group_by_length:  # transformers 5 folded group_by_length into train_sampling_strategy
        if "train_sampling_strategy" in TrainingArguments.__dataclass_fields__:
            kwargs["train_sampling_strategy"] = "group_by_length"
        else:
            kwargs["group_by_length"] = True
    # transformers 5 renamed gradient_checkpointing* to activation_checkpointing* (old names warn)
    prefix = (
        "activation" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__ else "gradient"
    )
    if recipe.gradient_checkpointing:
        kwargs[f"{prefix}_checkpointing"] = True
        kwargs[f"{prefix}_checkpointing_kwargs"] = dict(CHECKPOINTING)
    return TrainingArguments(**kwargs)
