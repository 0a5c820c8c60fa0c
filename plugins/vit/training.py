"""``training_parts(recipe)`` for the core engine: a timm ViT (``TimmClassifier``), ImageFolder datasets
with OpenCV augmentation, and accuracy as the metric. Imported lazily (torch, timm, OpenCV)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from core import AppsError, TrainingParts
from plugins.vit.data import (
    CAMERA_DATASET,
    ImageFolderDataset,
    collate,
    dataset_labels,
    resolve_dataset,
    scan_split,
    write_labels_file,
)


def accuracy_metrics(eval_prediction) -> dict:
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def _leave_cores_to_workers(workers: int) -> None:
    """On a CPU, the model's threads and the scene-rendering workers share the cores: the model gets the
    cores the workers leave (2 cores, 1 worker: one thread). Measured on 2 cores, 150 steps: 48 s and 70
    CPU s with one thread, 59 s and 109 CPU s with two (OpenMP's threads spin while the worker renders)."""
    import torch

    from core import cpu_threads

    if workers > 0 and not torch.cuda.is_available():
        torch.set_num_threads(max(1, cpu_threads() - workers))


def training_parts(recipe) -> TrainingParts:
    import copy

    from plugins.vit.model import TimmClassifier

    # none_repeat weighs the fresh training scenes only; the rendered splits (val/, heldout/) stay as they are
    root = resolve_dataset(recipe.dataset, **{k: v for k, v in recipe.scenes.items() if k != "none_repeat"})
    labels = dataset_labels(root)
    fresh = bool(recipe.scenes.get("fresh")) and recipe.dataset == CAMERA_DATASET
    if not fresh and not (root / "train").is_dir():
        raise AppsError(
            f"{root} has no train/ folder", hint="layout: ROOT/train/CLASS/*.jpg and ROOT/val/CLASS/*.jpg"
        )
    model = TimmClassifier(
        recipe.model,
        labels,
        recipe.model_args,
        pretrained=recipe.pretrained,
        preprocess={"mean": list(recipe.mean), "std": list(recipe.std), "crop_pct": recipe.crop_pct},
    )
    model.label_smoothing = recipe.label_smoothing
    size = model.preprocess["image_size"]
    common = {"image_size": size, "mean": recipe.mean, "std": recipe.std, "crop_pct": recipe.crop_pct}
    if fresh:  # camera scenes rendered afresh for every item (in the DataLoader's workers)
        from plugins.vit.camera_data import FreshScenes
        from plugins.vit.scenes import PROCEDURAL

        per_class = int(recipe.scenes.get("per_class", 1200))
        none_repeat = int(recipe.scenes.get("none_repeat", 2))
        train = FreshScenes(
            labels, per_class, size, recipe.mean, recipe.std, seed=recipe.seed, none_repeat=none_repeat,
            procedural=float(recipe.scenes.get("procedural", PROCEDURAL)),
            marks=float(recipe.scenes.get("marks", 0.0)),
        )  # fmt: skip
        _leave_cores_to_workers(recipe.dataloader_workers)
    else:
        train_split = scan_split(root / "train", labels, require_all=True)
        train = ImageFolderDataset(
            train_split, train=True, seed=recipe.seed, augment_strength=recipe.augment, **common
        )
    evaluation = None
    if (root / "val").is_dir():
        evaluation = ImageFolderDataset(scan_split(root / "val", labels), **common)
    skipped = train.skipped + (evaluation.skipped if evaluation else [])
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable image(s), e.g. {skipped[0]}", file=sys.stderr)
    base_snapshot = copy.deepcopy(model).cpu() if recipe.finetune == "lora" else None

    def save(run_dir: Path) -> None:
        write_labels_file(Path(run_dir) / "labels.txt", labels)
        if base_snapshot is not None:  # a LoRA adapter needs its exact base weights to be loaded again
            base_snapshot.save_pretrained(Path(run_dir) / "base")

    return TrainingParts(
        model=model,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=collate,
        compute_metrics=accuracy_metrics,
        save=save,
        trainable_modules=["model.head"],
        label_names=["labels"],
        metadata={
            "base_model": recipe.model,
            "labels": labels,
            "dataset": str(root),
            "image_size": size,
            "train_images": len(train),
            "eval_images": len(evaluation) if evaluation else 0,
            "skipped_images": len(skipped),
        },
    )
