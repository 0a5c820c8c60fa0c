"""``apps eval vit``: accuracy, per-class accuracy and a confusion-matrix PNG, on any folder of class
sub-folders, or by default on the offline default's held-out data: for a model with a ``none`` class (the
camera default), the scenes rendered from the reserved typefaces and photographs (``heldout/``, never trained
on) and the handwritten digits' test split; else the handwritten test split of digits-shapes.

The prediction is the argmax over all classes, ``none`` included, with no threshold."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from core import AppsError, read_image, runs_dir
from plugins.vit.camera_data import load_camera_dataset
from plugins.vit.data import (
    DIGITS,
    HELDOUT_SPLIT,
    NONE,
    dataset_labels,
    load_default_dataset,
    resolve_split,
    scan_split,
)
from plugins.vit.model import load_classifier

HELDOUT_SOURCE = (
    "scenes rendered from the reserved sources only: URW base35, WenQuanYi and DejaVu typefaces over the "
    "sample photographs of scikit-image, scikit-learn, matplotlib and gradio (never trained on)"
)
HANDWRITTEN_SOURCE = (
    "scikit-learn's handwritten digits, test split (the same source as the training digits; other writers' "
    "samples are not separated)"
)


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
    classifier=None,
    quiet=False,
    **_ignored,
) -> dict:
    classifier = classifier or load_classifier(model, device, precision, backend)
    if not data and not split and NONE in classifier.labels:
        return _evaluate_camera_default(classifier, output, batch_size, as_json)
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
    if NONE in classifier.labels and classifier.labels.index(NONE) in present:
        none_mask = targets_arr == classifier.labels.index(NONE)
        # A scene without a card given a digit or shape: what a visitor sees as a false alarm.
        metrics["none_false_positive_rate"] = round(
            float((predictions_arr[none_mask] != classifier.labels.index(NONE)).mean()), 4
        )
        metrics["accuracy_without_none"] = (
            round(float((predictions_arr[~none_mask] == targets_arr[~none_mask]).mean()), 4)
            if (~none_mask).any()
            else None
        )
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
    elif not quiet:
        click.echo(f"accuracy {metrics['accuracy']:.4f} on {metrics['samples']} images of {folder}")
        if "none_false_positive_rate" in metrics:
            click.echo(
                f"none false positives (a scene without a card named a digit or shape): "
                f"{metrics['none_false_positive_rate']:.4f}; accuracy on the cards: {metrics['accuracy_without_none']}"
            )
        if "accuracy_digits" in metrics:
            click.echo(f"accuracy on the digit classes: {metrics['accuracy_digits']:.4f}")
        worst = sorted(per_class.items(), key=lambda item: item[1]["accuracy"])[:5]
        click.echo("lowest classes: " + ", ".join(f"{name} {value['accuracy']:.3f}" for name, value in worst))
        click.echo(f"confusion matrix: {metrics['confusion_matrix_png']}")
    return metrics


def _evaluate_camera_default(classifier, output, batch_size, as_json) -> dict:
    """The camera default's two held-out figures: the reserved-source scenes and the handwritten test split."""
    root = load_camera_dataset(existing=True)
    out = Path(output) if output else _default_eval_dir(classifier.name)
    results = {}
    for split, source in ((HELDOUT_SPLIT, HELDOUT_SOURCE), ("test", HANDWRITTEN_SOURCE)):
        if not (root / split).is_dir():
            raise AppsError(
                f"{root} has no {split}/ split",
                hint="install the reserved sources (fonts-urw-base35 fonts-wqy-zenhei fonts-dejavu-core, "
                "scikit-image) and delete the folder so that it is rendered again",
            )
        if not as_json:
            click.echo(f"== {split}: {source}")
        metrics = evaluate(
            data=str(root),
            split=split,
            output=str(out / split),
            batch_size=batch_size,
            classifier=classifier,
            quiet=as_json,
        )
        metrics["source"] = source
        results[split] = metrics
    summary = {
        "heldout_accuracy": results[HELDOUT_SPLIT]["accuracy"],
        "heldout_none_false_positive_rate": results[HELDOUT_SPLIT].get("none_false_positive_rate"),
        "handwritten_test_accuracy": results["test"]["accuracy"],
        "accuracy": results[HELDOUT_SPLIT]["accuracy"],
        "splits": results,
        "model": classifier.name,
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2))
    if as_json:
        click.echo(json.dumps(summary))
    return summary


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
