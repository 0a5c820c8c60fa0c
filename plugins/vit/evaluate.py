"""``apps eval vit``: accuracy, per-class accuracy and a confusion-matrix PNG, on a recipe's held-out split
(the offline default's real handwritten digits) or any folder of class sub-folders."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from core import AppsError, read_image, runs_dir
from plugins.vit.data import DIGITS, dataset_labels, load_default_dataset, resolve_split, scan_split
from plugins.vit.model import load_classifier


def evaluate(
    model=None,
    data=None,
    split=None,
    output=None,
    batch_size=64,
    device="auto",
    precision="auto",
    backend="auto",
    as_json=False,
    **_ignored,
) -> dict:
    classifier = load_classifier(model, device, precision, backend)
    root = Path(data).expanduser() if data else load_default_dataset()
    folder = resolve_split(root, split)
    if (root / "labels.txt").is_file():
        dataset_names = dataset_labels(root)
        foreign = [name for name in dataset_names if name not in classifier.labels]
        if foreign and len(foreign) == len(dataset_names):
            raise AppsError(
                f"none of the classes of {root} ({', '.join(dataset_names[:8])} ...) is a label of the model",
                hint=f"the model knows: {', '.join(classifier.labels[:12])} ...",
            )
    split_files = scan_split(folder, classifier.labels)
    present = sorted(set(split_files.targets))
    predictions, targets, skipped = [], [], []
    batch, batch_targets = [], []
    start = time.perf_counter()

    def flush():
        if batch:
            probs, _ = classifier.classify(np.stack(batch))
            predictions.extend(np.argmax(probs, axis=1).tolist())
            targets.extend(batch_targets)
            batch.clear()
            batch_targets.clear()

    for path, target in zip(split_files.files, split_files.targets, strict=True):
        image = read_image(path)
        if image is None:
            skipped.append(str(path))
            continue
        batch.append(classifier.preprocess(image))
        batch_targets.append(target)
        if len(batch) >= batch_size:
            flush()
    flush()
    if not targets:
        raise AppsError(
            f"no readable images in {folder}", hint=f"{len(skipped)} file(s) could not be decoded"
        )
    predictions_arr, targets_arr = np.array(predictions), np.array(targets)
    per_class = {}
    for index in present:
        mask = targets_arr == index
        if mask.any():
            per_class[classifier.labels[index]] = {
                "accuracy": round(float((predictions_arr[mask] == index).mean()), 4),
                "support": int(mask.sum()),
            }
    metrics = {
        "accuracy": round(float((predictions_arr == targets_arr).mean()), 4),
        "samples": len(targets),
        "per_class": per_class,
        "skipped_images": len(skipped),
        "empty_classes": split_files.empty_classes,
        "data": str(folder),
        "model": classifier.name,
        "seconds": round(time.perf_counter() - start, 2),
    }
    digit_mask = np.isin(targets_arr, [classifier.labels.index(d) for d in DIGITS if d in classifier.labels])
    if digit_mask.any() and digit_mask.sum() < len(targets_arr):
        metrics["accuracy_digits"] = round(
            float((predictions_arr[digit_mask] == targets_arr[digit_mask]).mean()), 4
        )
    out = Path(output) if output else _default_eval_dir(classifier.name)
    out.mkdir(parents=True, exist_ok=True)
    metrics["confusion_matrix_png"] = str(out / "confusion_matrix.png")
    _plot_confusion(
        targets_arr,
        predictions_arr,
        present,
        classifier.labels,
        out / "confusion_matrix.png",
        f"{Path(classifier.name).name} on {folder.name}: accuracy {metrics['accuracy']:.3f}",
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable image(s), e.g. {skipped[0]}", file=sys.stderr)
    if as_json:
        click.echo(json.dumps(metrics))
    else:
        click.echo(f"accuracy {metrics['accuracy']:.4f} on {metrics['samples']} images of {folder}")
        if "accuracy_digits" in metrics:
            click.echo(f"accuracy on the digit classes: {metrics['accuracy_digits']:.4f}")
        worst = sorted(per_class.items(), key=lambda item: item[1]["accuracy"])[:5]
        click.echo("lowest classes: " + ", ".join(f"{name} {value['accuracy']:.3f}" for name, value in worst))
        click.echo(f"confusion matrix: {metrics['confusion_matrix_png']}")
    return metrics


def _default_eval_dir(model_name: str) -> Path:
    return runs_dir() / "vit-eval" / (Path(model_name).name or "model")


def _plot_confusion(targets, predictions, present, labels, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = sorted(set(present) | set(np.unique(predictions).tolist()))
    if len(classes) > 40:  # ImageNet-sized label sets: only the classes that occur as targets
        classes = present
    position = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(targets, predictions, strict=True):
        if t in position and p in position:
            matrix[position[t], position[p]] += 1
    size = max(5.0, 0.45 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    names = [labels[c][:16] for c in classes]
    axes.set_xticks(range(len(classes)), names, rotation=90)
    axes.set_yticks(range(len(classes)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    if len(classes) <= 30:
        for i in range(len(classes)):
            for j in range(len(classes)):
                if matrix[i, j]:
                    axes.text(
                        j,
                        i,
                        str(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
