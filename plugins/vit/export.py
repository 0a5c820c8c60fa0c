"""``apps export vit``: ONNX (plus labels.txt and preprocess.json) that ``apps run vit --model model.onnx``
runs, checked against PyTorch; with ``--int8`` also onnxruntime's dynamically quantized model for CPUs."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from core import AppsError, open_source
from plugins.vit.data import write_labels_file
from plugins.vit.model import OnnxClassifier, TorchClassifier, load_classifier


def export(
    model=None, export_format="onnx", output=None, opset=17, int8=False, as_json=False, **_ignored
) -> Path:
    import torch

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
