"""Training, evaluation, export and prepare for the vit app (imported lazily: torch, timm, OpenCV).

- ``training_parts(recipe)``: a timm ViT (``TimmClassifier``), ImageFolder datasets with OpenCV
  augmentation, accuracy metrics, for the core engine (``core.training.run_training``).
- ``evaluate``: accuracy, per-class accuracy, a confusion-matrix PNG, on a recipe's held-out split or any
  folder of class sub-folders.
- ``export``: ONNX (plus labels.txt and preprocess.json) that ``apps run vit --model model.onnx`` runs.
- ``prepare``: builds the offline default model with the ``vit-tiny-digits`` recipe.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import click
import numpy as np

from core.errors import AppsError
from plugins.vit.data import (
    DIGITS,
    ImageFolderDataset,
    build_default_dataset,
    collate,
    dataset_labels,
    read_image,
    resolve_split,
    scan_split,
)

DEFAULT_RECIPE = "vit-tiny-digits"
DEFAULT_DATASET = "digits-shapes"


# ---- datasets -----------------------------------------------------------------------------------
def default_dataset_root() -> Path:
    from core.paths import data_dir

    return data_dir("vit") / DEFAULT_DATASET


def load_default_dataset(**_options) -> Path:
    """The registered ``digits-shapes`` dataset: built on first use (seconds), then reused."""
    return build_default_dataset(default_dataset_root())


def resolve_dataset(name_or_path: str | None) -> Path:
    """A registered dataset name (its loader returns a folder) or an ImageFolder path."""
    if not name_or_path or name_or_path == DEFAULT_DATASET:
        return load_default_dataset()
    from core.plugins import get_manager, suggest

    known = get_manager().datasets("vit")
    if name_or_path in known:
        return Path(known[name_or_path]["loader"]())
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise AppsError(
            f"dataset '{name_or_path}' is neither a registered dataset nor a folder",
            hint=suggest(name_or_path, known) + "; or give a folder with train/ and val/",
        )
    return path


# ---- training -----------------------------------------------------------------------------------
def accuracy_metrics(eval_prediction) -> dict:
    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def training_parts(recipe):
    import copy

    from core.training import TrainingParts
    from plugins.vit.model import TimmClassifier

    root = resolve_dataset(recipe.dataset)
    labels = dataset_labels(root)
    if not (root / "train").is_dir():
        raise AppsError(
            f"{root} has no train/ folder", hint="layout: ROOT/train/CLASS/*.jpg and ROOT/val/CLASS/*.jpg"
        )
    train_split = scan_split(root / "train", labels, require_all=True)
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
        from plugins.vit.data import write_labels_file

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


# ---- evaluation ---------------------------------------------------------------------------------
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
    from plugins.vit.model import load_classifier

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
    from core.paths import runs_dir

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


# ---- export -------------------------------------------------------------------------------------
def export(
    model=None, export_format="onnx", output=None, opset=17, int8=False, as_json=False, **_ignored
) -> Path:
    import torch

    from plugins.vit.model import OnnxClassifier, TorchClassifier, load_classifier

    classifier = load_classifier(model, "cpu", "fp32")
    if not isinstance(classifier, TorchClassifier):
        raise AppsError("this model is already an ONNX file", hint="export needs a PyTorch model")
    folder = Path(output) if output else Path(f"{Path(classifier.name).name}-onnx")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.onnx"

    class Logits(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, pixel_values):
            out = self.module(pixel_values)
            return out.logits if hasattr(out, "logits") else out

    wrapper = Logits(classifier.module).eval()
    example = torch.from_numpy(classifier.preprocess(np.full((64, 64, 3), 200, np.uint8))[None])
    with torch.inference_mode():
        expected = wrapper(example).float().numpy()
    _onnx_export(wrapper, example, target, opset)
    from plugins.vit.data import write_labels_file

    write_labels_file(folder / "labels.txt", classifier.labels)
    (folder / "preprocess.json").write_text(
        json.dumps(
            {
                "image_size": classifier.image_size,
                "mean": list(classifier.mean),
                "std": list(classifier.std),
                "crop_pct": classifier.crop_pct,
                "source_model": classifier.name,
            },
            indent=2,
        )
    )
    check = OnnxClassifier(target, "cpu")
    logits = check.session.run(None, {check.input_name: example.numpy()})[0]
    difference = float(np.abs(logits - expected).max())
    if difference > 1e-2:
        raise AppsError(f"the ONNX model's outputs differ from PyTorch's by {difference:.3g}")
    info = {
        "onnx": str(target),
        "labels": str(folder / "labels.txt"),
        "max_abs_difference": difference,
        "bytes": target.stat().st_size,
    }
    if int8:
        info.update(_quantize_int8(target, classifier, wrapper))
    if as_json:
        click.echo(json.dumps(info))
    else:
        click.echo(f"wrote {target} ({info['bytes'] / 1e6:.1f} MB, max |onnx - torch| = {difference:.2e})")
        if int8:
            click.echo(
                f"wrote {info['onnx_int8']} ({info['bytes_int8'] / 1e6:.1f} MB, max |p_int8 - p_torch| = "
                f"{info['int8_max_probability_difference']:.2e} on {CHECK_IMAGES} check images; "
                f"'apps eval vit --model {info['onnx_int8']}' measures its accuracy)"
            )
        click.echo(f"run it: apps run vit --model {info.get('onnx_int8', target)}")
    return target


CHECK_IMAGES = 16  # synthetic:// frames on which the int8 model's probabilities are compared with PyTorch's


def _quantize_int8(target: Path, classifier, wrapper) -> dict:
    """``model-int8.onnx`` beside ``target``: onnxruntime's dynamic quantization (int8 weights per output
    channel, activations quantized per call). For CPU execution: on a CPU without bf16 it is the fastest
    precision (about 2x fp32 for ViT-B). TensorRT builds its own fp16/int8 engine from the fp32 file."""
    import logging

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from core.media import open_source
    from plugins.vit.model import OnnxClassifier

    quantized = target.with_name("model-int8.onnx")
    quiet, level = logging.getLogger(), logging.getLogger().level
    quiet.setLevel(logging.ERROR)  # onnxruntime logs "consider pre-processing" advice on every call
    try:
        quantize_dynamic(target, quantized, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        quiet.setLevel(level)
    graph = onnx.load(str(quantized))
    onnx.helper.set_model_props(graph, {"precision": "int8"})  # what apps run vit reports
    onnx.save(graph, str(quantized))
    with open_source(f"synthetic://?frames={CHECK_IMAGES}&width=320&height=240") as frames:
        pixels = np.stack([classifier.preprocess(frame.image) for frame in frames])
    with torch.inference_mode():
        expected = wrapper(torch.from_numpy(pixels)).float().softmax(1).numpy()
    probs, _ = OnnxClassifier(quantized, "cpu").classify(pixels)
    return {
        "onnx_int8": str(quantized),
        "bytes_int8": quantized.stat().st_size,
        "int8_max_probability_difference": float(np.abs(probs - expected).max()),
    }


def _onnx_export(module, example, target: Path, opset: int) -> None:
    import warnings

    import torch

    names = {"input_names": ["pixel_values"], "output_names": ["logits"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the TorchScript exporter: fast, no extra packages, dynamic batch through dynamic_axes
            kwargs = {"dynamo": False} if _has_dynamo_flag() else {}
            torch.onnx.export(
                module,
                (example,),
                str(target),
                opset_version=opset,
                dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                **kwargs,
                **names,
            )
            return
        except Exception as exc:
            legacy_error = exc
        try:
            batch = torch.export.Dim("batch", min=1, max=1024)
            torch.onnx.export(
                module,
                (example,),
                str(target),
                dynamo=True,
                external_data=False,
                dynamic_shapes={"pixel_values": {0: batch}},
                **names,
            )
        except Exception as exc:
            raise AppsError(f"ONNX export failed: {exc} (TorchScript exporter: {legacy_error})") from None


def _has_dynamo_flag() -> bool:
    import inspect

    import torch

    return "dynamo" in inspect.signature(torch.onnx.export).parameters


# ---- prepare ------------------------------------------------------------------------------------
def prepare(app, force=False, download=True, overrides=(), **_ignored) -> Path:
    """Build the offline default model (digits + shapes) into core.paths.default_model_dir('vit')."""
    from core.paths import default_model_dir
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from core.training import run_training
    from plugins.vit.app import VitRecipe
    from plugins.vit.model import CONFIG_NAME, DEFAULT_TIMM_MODEL, cached_timm_weights

    if download and not cached_timm_weights(DEFAULT_TIMM_MODEL):
        _try_download(DEFAULT_TIMM_MODEL)
    target = default_model_dir("vit")
    if (target / CONFIG_NAME).is_file() and not force:
        click.echo(f"the offline default model is ready: {target} (--force rebuilds it)")
        return target
    click.echo("building the offline default dataset (scikit-learn digits + rendered digits and shapes) ...")
    root = load_default_dataset()
    recipe = load_recipe(VitRecipe, get_manager().recipe_path("vit", DEFAULT_RECIPE), list(overrides))
    recipe.dataset = str(root)
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    click.echo(f"training '{DEFAULT_RECIPE}' ({recipe.num_epochs:g} epochs) into {staging} ...")
    start = time.time()
    run_training(app, recipe, run_dir=staging, recipe_name=DEFAULT_RECIPE)
    for checkpoint in staging.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)  # the finished model is all that is needed
    metrics = evaluate(model=str(staging), data=str(root), split="test", output=str(staging / "eval"))
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    click.echo(
        f"offline default model ready in {time.time() - start:.0f} s: {target} "
        f"(held-out real handwritten digits: accuracy {metrics['accuracy']:.4f})"
    )
    return target


def _try_download(name: str) -> None:
    import os

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return
    try:
        from plugins.vit.model import _create_timm

        _create_timm(name, pretrained=True)
        click.echo(f"cached the weights of {name}")
    except Exception as exc:
        click.echo(
            f"note: could not download {name} ({str(exc).splitlines()[0][:100]}); "
            "the offline default model is used instead",
            err=True,
        )
