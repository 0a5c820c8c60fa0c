"""What an app hands the training engine: :class:`TrainingParts`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainingParts:
    """What an app hands the engine for one recipe.

    model: a ``torch.nn.Module`` whose ``forward(**batch)`` returns an output with ``.loss`` (any
        transformers model does); saved with ``save_pretrained`` when it has it.
    train_dataset / eval_dataset: map-style datasets (``torch.utils.data.Dataset`` or ``datasets.Dataset``).
        A ``lengths`` attribute (one number per item) is what ``group_by_length`` batches by; without
        it the Trainer measures ``input_ids`` of every item.
    data_collator: turns a list of dataset items into a batch dict of tensors.
    compute_metrics: ``transformers.EvalPrediction -> dict`` of metrics computed during evaluation.
    save: writes what the app needs beside the weights into the run directory (labels, tokenizer,
        chat template, config the app reads back in ``load``).
    trainable_modules: module-name patterns kept trainable for ``finetune: freeze`` (the head), and
        saved in full beside a LoRA adapter (peft ``modules_to_save``).
    metadata: small JSON-friendly facts written to ``run.json`` (app, base model, labels count ...).
    label_names: batch keys holding the labels (default: found from the model's ``forward`` signature);
        needed for ``compute_metrics`` when the model's forward takes ``**kwargs``.
    remove_unused_columns: let the Trainer drop ``datasets.Dataset`` columns the model does not take.
    callbacks: extra ``transformers.TrainerCallback`` objects.
    """

    model: Any
    train_dataset: Any
    eval_dataset: Any = None
    data_collator: Callable | None = None
    compute_metrics: Callable | None = None
    save: Callable[[Path], None] | None = None
    trainable_modules: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    label_names: list[str] | None = None
    remove_unused_columns: bool = False
    callbacks: list = field(default_factory=list)
