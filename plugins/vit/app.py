"""The vit app: live image classification with a Vision Transformer; its command-line options, and verbs
that delegate.

Module level stays light (no torch, numpy or OpenCV): ``apps list`` imports it. The work is done in
``live`` (the ``apps run`` loop), ``model`` (loading), ``training`` (parts for the core engine),
``evaluate``, ``export``, ``prepare``, ``collect``, ``bench`` and ``demo``, imported when a verb runs.
"""

from __future__ import annotations

import click

from core import App
from core import options as common
from plugins.vit.recipe import VitRecipe


def _source_options() -> list[click.Option]:
    return [
        click.Option(
            ["--camera", "-c"],
            type=int,
            default=None,
            help="Camera number N = /dev/videoN (OpenCV numbering; a Jetson CSI camera is --source csi://0).",
        ),
        click.Option(
            ["--source", "-s"],
            default=None,
            help="Input URI: synthetic://, csi://0, /dev/video0, v4l2://0, rtsp://..., http(s)://..., "
            "a video file, an image, a folder of images. Default: camera 0 if present, else synthetic://.",
        ),
        click.Option(["--loop"], is_flag=True, help="Restart a file source at its end."),
        click.Option(["--width"], type=int, default=None, help="Capture width asked of a camera."),
        click.Option(["--height"], type=int, default=None, help="Capture height asked of a camera."),
    ]


def _model_options() -> list[click.Option]:
    return [
        common.model(
            help="timm name (vit_tiny_patch16_224.augreg_in21k_ft_in1k), Hugging Face ViT id "
            "(google/vit-base-patch16-224), run directory, or .onnx file. Default: the timm default when "
            "cached, else the offline default from 'apps prepare vit'."
        ),
        click.Option(
            ["--backend"],
            type=click.Choice(["auto", "torch", "onnx"]),
            default="auto",
            show_default=True,
            help="onnx: run an exported model with onnxruntime (TensorRT/CUDA providers when present).",
        ),
        common.device(),
        common.precision(),
    ]


class VitApp(App):
    name = "vit"
    description = "Live image classification from a camera with a Vision Transformer"
    recipe_class = VitRecipe
    # vit-camera: the camera-robust recipe, with `none` (docs/vit.md has its figures against vit-tiny-digits).
    default_recipe = "vit-camera"
    order = 10  # the flagship: first in apps list, and the demo opens on its tab
    default_model = "vit_tiny_patch16_224.augreg_in21k_ft_in1k (offline: the model 'apps prepare vit' builds)"

    @classmethod
    def cli_options(cls, verb: str) -> list:
        if verb == "run":
            return (
                _source_options()
                + _model_options()
                + [
                    click.Option(
                        ["--top-k", "-k"], type=int, default=3, show_default=True, help="Labels to show."
                    ),
                    click.Option(
                        ["--attention"],
                        is_flag=True,
                        help="Overlay the ViT's attention rollout as a heat map (PyTorch models).",
                    ),
                    click.Option(
                        ["--output", "-o"],
                        multiple=True,
                        help="Also write to FILE.mp4 (annotated video), FILE.jpg, FOLDER/, or "
                        "http://HOST:PORT (MJPEG stream for a browser). Repeatable.",
                    ),
                    click.Option(
                        ["--headless"], is_flag=True, help="No window (automatic when there is no display)."
                    ),
                    click.Option(
                        ["--fullscreen"], is_flag=True, help="Full-screen window for kiosks (ESC or q quits)."
                    ),
                    click.Option(["--max-frames", "-n"], type=int, default=None, help="Stop after N frames."),
                    click.Option(
                        ["--smooth"],
                        type=int,
                        default=8,
                        show_default=True,
                        help="Frames whose probabilities are averaged for the shown label (1: no smoothing).",
                    ),
                    click.Option(
                        ["--threshold"],
                        type=float,
                        default=0.0,
                        show_default=True,
                        help="Live view only: below this smoothed confidence the screen says 'nothing "
                        "recognised' (as it does for the none class). apps eval never thresholds.",
                    ),
                    click.Option(
                        ["--workers"],
                        type=int,
                        default=None,
                        help="Model calls running at once, each on its share of the CPU threads. Default: 2 on "
                        "a CPU (more frames/s; each frame takes a little longer), 1 on a GPU or with --attention.",
                    ),
                    common.json_output(),
                ]
            )
        if verb == "eval":
            return _model_options() + [
                click.Option(
                    ["--data"],
                    default=None,
                    help="Folder of class sub-folders, with or without train/val/test splits (a none/ "
                    "folder is the none class). Default for the camera default: the scenes rendered from "
                    "the reserved sources (heldout/) and the handwritten test split.",
                ),
                click.Option(
                    ["--split"],
                    default=None,
                    help="Split to read when --data has splits (default: test, else val; the camera "
                    "dataset also has heldout).",
                ),
                click.Option(
                    ["--output", "-o"], default=None, help="Folder for confusion_matrix.png and metrics.json."
                ),
                click.Option(["--batch-size"], type=int, default=64, show_default=True),
                common.json_output(),
            ]
        if verb == "prepare":
            return [
                click.Option(
                    ["--force"], is_flag=True, help="Rebuild the offline default model even if it exists."
                ),
                click.Option(
                    ["--download/--no-download"],
                    default=True,
                    show_default=True,
                    help="Also try to cache the timm default's weights (needs the network).",
                ),
                click.Argument(["overrides"], nargs=-1),
            ]
        if verb == "export":
            return [
                common.model(),
                click.Option(
                    ["--format", "export_format"],
                    type=click.Choice(["onnx"]),
                    default="onnx",
                    show_default=True,
                ),
                click.Option(
                    ["--output", "-o"],
                    default=None,
                    help="Output folder (default: MODEL-onnx beside the model).",
                ),
                click.Option(["--opset"], type=int, default=17, show_default=True),
                click.Option(
                    ["--int8"],
                    is_flag=True,
                    help="Also write model-int8.onnx (int8 weights, activations quantized per call): about "
                    "2x faster on CPUs without bf16. For the CPU execution provider; TensorRT builds its "
                    "own fp16/int8 engine from model.onnx.",
                ),
                common.json_output(),
            ]
        if verb == "collect":
            return _source_options() + [
                click.Option(
                    ["--label", "-l"], required=True, help="Class name: the folder the frames go to."
                ),
                click.Option(
                    ["--data"],
                    default="data/vit",
                    show_default=True,
                    help="Dataset root (ImageFolder layout).",
                ),
                click.Option(["--count"], type=int, default=50, show_default=True, help="Frames to save."),
                click.Option(
                    ["--interval"], type=float, default=0.2, show_default=True, help="Seconds between saves."
                ),
                click.Option(
                    ["--val-fraction"],
                    type=float,
                    default=0.15,
                    show_default=True,
                    help="Share of the frames that go to val/ instead of train/.",
                ),
                click.Option(["--headless"], is_flag=True, help="No preview window."),
            ]
        if verb == "bench":
            return [
                click.Option(["--quick"], is_flag=True, help="Fewer frames and only vit_tiny (a smoke run)."),
                click.Option(["--frames"], type=int, default=None, help="Frames per measurement."),
                click.Option(
                    ["--device"],
                    type=click.Choice(["cpu", "cuda"]),
                    default="cpu",
                    help="cuda: the same rows on the GPU, in fp32 and fp16, the peer on the GPU too.",
                ),
            ]
        return []

    @classmethod
    def profile_settings(cls, profile) -> dict:
        """On a Jetson: a batch that fits its (shared) memory, and fp16 on its tensor cores."""
        if profile.accelerator != "jetson":
            return {}
        memory = profile.memory_gb
        return {"batch_size": 32 if memory <= 8 else 64 if memory <= 16 else 128, "precision": "fp16"}

    # ---- verbs --------------------------------------------------------------------------------
    def load(self, model=None, device="auto", dtype="auto", backend="auto"):
        from plugins.vit.model import load_classifier

        self.classifier = load_classifier(model, device, dtype, backend)
        return self

    def predict(self, inputs):
        """BGR images (numpy) in, ``[{"top": [{"label", "index", "score"}, ...]}]`` out."""
        import numpy as np

        if not hasattr(self, "classifier"):
            self.load()
        batch = np.stack([self.classifier.preprocess(image) for image in inputs])
        probs, _ = self.classifier.classify(batch)
        return [{"top": top} for top in self.classifier.top_k(probs, 5)]

    def run(self, **options) -> None:
        from plugins.vit.live import run_live

        run_live(self, **options)

    def training_parts(self, recipe):
        from plugins.vit.training import training_parts

        return training_parts(recipe)

    def evaluate(self, **options) -> dict:
        from plugins.vit.evaluate import evaluate

        return evaluate(**options)

    def prepare(self, **options) -> None:
        from plugins.vit.prepare import prepare

        prepare(self, **options)

    def export(self, **options) -> None:
        from plugins.vit.export import export

        export(**options)

    def collect(self, **options) -> None:
        from plugins.vit.collect import collect

        collect(**options)

    def benchmark(self, **options) -> list[dict]:
        from plugins.vit.bench import benchmark

        return benchmark(self, **options)

    def demo(self) -> None:
        from plugins.vit.demo import build_tab

        build_tab(self)
