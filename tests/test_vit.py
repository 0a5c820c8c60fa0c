"""The vit app: model loading, attention rollout, the live CLI, datasets and bad input, training through
the core engine, eval, ONNX export, collect. Tiny ViT configs only (a few seconds each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("timm")
cv2 = pytest.importorskip("cv2")

from click.testing import CliRunner  # noqa: E402

from core.cli import cli  # noqa: E402
from core.errors import AppsError  # noqa: E402

TINY = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}
LABELS = [str(d) for d in range(10)] + ["circle", "square", "triangle", "star"]
# Overrides that make a recipe's real training (minutes) a few seconds: 3 steps of a one-block ViT.
TINY_TRAINING = [
    "max_steps=3",
    "model_args.depth=1",
    "model_args.embed_dim=32",
    "model_args.num_heads=2",
    "eval_batch_size=512",
    "num_epochs=1",
]


@pytest.fixture
def apps_home(isolated_home, tmp_path, monkeypatch):
    """The isolated $APPS_HOME of conftest, plus runs/ under tmp_path."""
    monkeypatch.setenv("APPS_RUNS", str(tmp_path / "runs"))
    return isolated_home


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from plugins.vit.model import TimmClassifier

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-vit")
    TimmClassifier("vit_tiny_patch16_224", LABELS, TINY).save_pretrained(folder)
    return folder


def invoke(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_app_module_imports_no_torch():
    code = "import sys, plugins.vit, plugins.vit.app; assert 'torch' not in sys.modules and 'cv2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_synthetic_headless_json(tiny_model, apps_home, tmp_path):
    video = tmp_path / "annotated.mp4"
    result = invoke(
        "run",
        "vit",
        "--source",
        "synthetic://",
        "--max-frames",
        "5",
        "--headless",
        "--json",
        "--model",
        str(tiny_model),
        "--attention",
        "--output",
        str(video),
    )
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    frames, summary = lines[:-1], lines[-1]
    assert len(frames) == 5 and [f["frame"] for f in frames] == list(range(5))
    assert all(len(f["top"]) == 3 and f["top"][0]["label"] in LABELS for f in frames)
    assert all(f["top"][0]["score"] >= f["top"][1]["score"] for f in frames)
    assert (
        summary["summary"] is True
        and summary["frames"] == 5
        and summary["fps"] > 0
        and summary["model_fps"] > 0
    )
    with __import__("core.media", fromlist=["open_source"]).open_source(str(video)) as source:
        assert len(list(source)) == 5


def test_two_model_workers_keep_frame_order_and_share_the_threads(tiny_model, apps_home, monkeypatch):
    import torch

    from plugins.vit.live import plan_workers
    from plugins.vit.model import load_classifier

    monkeypatch.setattr("plugins.vit.live.cpu_threads", lambda: 4)
    classifier = load_classifier(str(tiny_model), "cpu", "fp32")
    assert plan_workers(None, classifier, attention=False) == (2, 2)  # a CPU: two workers, half each
    assert plan_workers(None, classifier, attention=True) == (1, 0)  # one: the runtime's own count
    assert plan_workers(3, classifier, attention=False) == (3, 1)
    with pytest.raises(AppsError, match="attention"):
        plan_workers(2, classifier, attention=True)
    with pytest.raises(AppsError, match="--workers"):
        plan_workers(0, classifier, attention=False)

    before = torch.get_num_threads()
    result = invoke(
        "run", "vit", "--source", "synthetic://?frames=40", "--headless", "--json",
        "--model", str(tiny_model), "--workers", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    # every frame once, in the source's order, though two workers classified them (core.media.workers'
    # test checks that each result stays with its frame)
    assert [f["index"] for f in lines[:-1]] == list(range(40)) and lines[-1]["workers"] == 2
    assert "2 model workers x 2 threads" in result.output
    assert torch.get_num_threads() == before  # the run's 2 threads per worker were undone


def test_run_without_any_model_says_prepare(apps_home):
    result = CliRunner().invoke(
        cli, ["run", "vit", "--source", "synthetic://", "--max-frames", "1", "--headless"]
    )
    assert result.exit_code != 0 and isinstance(result.exception, AppsError)
    assert "apps prepare vit" in str(result.exception) + result.output


def test_export_int8_writes_a_quantized_model_that_runs(tiny_model, tmp_path, apps_home, monkeypatch):
    import onnx

    out = tmp_path / "onnx"
    result = invoke("export", "vit", "--model", str(tiny_model), "-o", str(out), "--int8", "--json")
    assert result.exit_code == 0, result.output
    info = json_lines(result.stdout)[-1]
    quantized = out / "model-int8.onnx"
    assert info["onnx_int8"] == str(quantized) and info["bytes_int8"] < info["bytes"]
    # the Transformer's matmuls run in integers (not a renamed fp32 copy), and still agree with PyTorch
    ops = {node.op_type for node in onnx.load(str(quantized)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops, ops
    assert info["int8_max_probability_difference"] < 0.05
    # it runs live, two workers of one thread each (on 2 CPUs), where onnxruntime's idle threads sleep
    from plugins.vit.model import OnnxClassifier

    sessions, real_open = [], OnnxClassifier._open

    def spy(self, threads=0, spin_wait=True):
        sessions.append((threads, spin_wait))
        return real_open(self, threads, spin_wait)

    monkeypatch.setattr(OnnxClassifier, "_open", spy)
    monkeypatch.setattr("plugins.vit.live.cpu_threads", lambda: 2)
    result = invoke(
        "run", "vit", "--source", "synthetic://", "-n", "4", "--headless", "--json", "--model", str(quantized)
    )
    assert result.exit_code == 0, result.output
    summary = json_lines(result.stdout)[-1]
    assert summary["backend"] == "onnx" and summary["dtype"] == "int8"
    assert sessions == [(0, True), (1, False)]  # loaded with onnxruntime's defaults, then set for the run


def test_onnx_model_in_run_refuses_attention(tiny_model, tmp_path, apps_home):
    from plugins.vit.export import export
    from plugins.vit.model import load_classifier

    out = tmp_path / "onnx"
    export(model=str(tiny_model), output=str(out))
    assert (out / "model.onnx").is_file() and (out / "labels.txt").read_text().split() == LABELS
    torch_model, onnx_model = (
        load_classifier(str(tiny_model), "cpu", "fp32"),
        load_classifier(str(out / "model.onnx")),
    )
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    batch = np.stack([torch_model.preprocess(image)] * 3)  # a batch of 3: the batch axis is dynamic
    p_torch, _ = torch_model.classify(batch)
    p_onnx, _ = onnx_model.classify(batch)
    assert np.abs(p_torch - p_onnx).max() < 1e-4
    result = invoke(
        "run",
        "vit",
        "--source",
        "synthetic://",
        "-n",
        "2",
        "--headless",
        "--json",
        "--model",
        str(out / "model.onnx"),
    )
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[-1]["backend"] == "onnx"
    with pytest.raises(AppsError, match="attention"):
        from plugins.vit.app import VitApp
        from plugins.vit.live import run_live

        run_live(
            VitApp(),
            source="synthetic://",
            model=str(out / "model.onnx"),
            attention=True,
            max_frames=1,
            headless=True,
        )


def test_attention_recomputed_from_qkv_matches_timm_softmax(tiny_model):
    import torch

    from plugins.vit.model import load_classifier, rollout

    classifier = load_classifier(str(tiny_model), "cpu", "fp32")
    captured = []
    for block in classifier.vit.blocks:  # timm's own softmax output: attn_drop's input when not fused
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda m, i, o: captured.append(i[0].detach()))
    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    probs, maps = classifier.classify(classifier.preprocess(image)[None], attention=True)
    assert maps.shape == (1, 4, 4) and maps.max() == pytest.approx(1.0) and maps.min() >= 0
    assert abs(probs.sum() - 1) < 1e-5
    captured.clear()
    classifier._capture, classifier._qkv = True, []
    with torch.inference_mode():
        classifier.module(torch.from_numpy(classifier.preprocess(image)[None]))
    classifier._capture = False
    recomputed = classifier._timm_attentions()
    assert len(recomputed) == len(captured) == 2
    for ours, theirs in zip(recomputed, captured, strict=True):
        assert torch.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(rollout(recomputed, 1, (4, 4)).numpy(), maps, atol=1e-5)


def test_rollout_points_at_the_attended_patch():
    import torch

    from plugins.vit.model import rollout

    tokens = 1 + 9
    attention = torch.full((1, 2, tokens, tokens), 0.01)
    attention[:, :, :, 1 + 7] = 1.0  # every token looks at patch 7
    attention = attention / attention.sum(-1, keepdim=True)
    heat = rollout([attention, attention], 1, (3, 3))[0]
    assert heat.argmax().item() == 7 and heat.max().item() == pytest.approx(1.0)


def _image_folder(root, classes=("0", "1"), per_class=6, splits=("train", "val")):
    from plugins.vit.data import render_digit

    rng = np.random.default_rng(0)
    for split in splits:
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                cv2.imwrite(str(folder / f"{i}.png"), render_digit(int(name), rng, 32))
    (root / "labels.txt").write_text("".join(f"{c}\n" for c in classes))
    return root


def test_dataset_bad_input_is_explained(tmp_path):
    from plugins.vit.data import ImageFolderDataset, dataset_labels, scan_split

    root = _image_folder(tmp_path / "data")
    cv2.imwrite(str(root / "train" / "0" / "gray16.png"), np.full((40, 40), 30000, np.uint16))
    cv2.imwrite(str(root / "train" / "0" / "rgba.png"), np.zeros((40, 40, 4), np.uint8))
    (root / "train" / "1" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    labels = dataset_labels(root)
    dataset = ImageFolderDataset(scan_split(root / "train", labels), 32, [0.5] * 3, [0.5] * 3, train=True)
    assert len(dataset) == 14 and len(dataset.skipped) == 1 and dataset.skipped[0].endswith("broken.jpg")
    item = dataset[0]
    assert tuple(item["pixel_values"].shape) == (3, 32, 32)
    (root / "train" / "7").mkdir()
    with pytest.raises(AppsError, match="not listed in labels.txt"):
        dataset_labels(root)
    (root / "labels.txt").write_text("0\n1\n7\n")
    with pytest.raises(AppsError, match="7.*hold no images"):
        scan_split(root / "train", dataset_labels(root), require_all=True)
    with pytest.raises(AppsError, match="labels do not contain"):
        scan_split(root / "train", ["0", "1"])


def test_train_eval_export_through_the_engine(tmp_path, apps_home, monkeypatch):
    from core import run_training
    from core.recipes import load_recipe
    from plugins.vit.app import VitApp
    from plugins.vit.model import load_classifier
    from plugins.vit.recipe import VitRecipe

    data = _image_folder(tmp_path / "data")
    recipe = load_recipe(
        VitRecipe,
        None,
        {
            "dataset": str(data),
            "model_args": TINY,
            "max_steps": 4,
            "batch_size": 4,
            "logging_steps": 1,
            "learning_rate": 1e-3,
            "precision": "fp32",
        },
    )
    run = run_training(VitApp(), recipe, run_dir=tmp_path / "run")
    assert (run / "run.json").is_file() and (run / "labels.txt").read_text().split() == ["0", "1"]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["labels"] == ["0", "1"]
    classifier = load_classifier(str(run), "cpu", "fp32")
    assert classifier.labels == ["0", "1"] and classifier.image_size == 32
    result = invoke(
        "eval",
        "vit",
        "--model",
        str(run),
        "--data",
        str(data),
        "--split",
        "val",
        "--json",
        "--output",
        str(tmp_path / "eval"),
    )
    assert result.exit_code == 0, result.output
    metrics = json_lines(result.stdout)[-1]
    assert 0 <= metrics["accuracy"] <= 1 and metrics["samples"] == 12
    assert set(metrics["per_class"]) == {"0", "1"} and metrics["per_class"]["0"]["support"] == 6
    assert (tmp_path / "eval" / "confusion_matrix.png").stat().st_size > 1000
    (data / "val" / "9").mkdir()  # a class the model does not know
    cv2.imwrite(str(data / "val" / "9" / "x.png"), np.zeros((8, 8), np.uint8))
    result = CliRunner().invoke(cli, ["eval", "vit", "--model", str(run), "--data", str(data / "val")])
    assert result.exit_code != 0 and "9" in str(result.exception)


def test_collect_writes_an_image_folder(tmp_path, apps_home):
    result = invoke(
        "collect",
        "vit",
        "--source",
        "synthetic://",
        "--label",
        "cup",
        "--data",
        str(tmp_path / "d"),
        "--count",
        "8",
        "--interval",
        "0",
        "--headless",
        "--val-fraction",
        "0.25",
    )
    assert result.exit_code == 0, result.output
    train = list((tmp_path / "d" / "train" / "cup").glob("*.jpg"))
    val = list((tmp_path / "d" / "val" / "cup").glob("*.jpg"))
    assert len(train) == 6 and len(val) == 2
    assert (tmp_path / "d" / "labels.txt").read_text().split() == ["cup"]


@pytest.fixture
def few_sources(monkeypatch):
    """Two training and two reserved typefaces, two reserved photographs, no wallpapers: the camera scenes
    render in seconds."""
    from plugins.vit import sources

    few = {name: getattr(sources, name)()[:2] for name in ("training_fonts", "reserved_fonts", "reserved_photos")}
    if not few["training_fonts"] or not few["reserved_fonts"]:
        pytest.skip("no training or reserved typefaces installed (make system-deps)")
    for name, found in few.items():
        monkeypatch.setattr(sources, name, lambda found=found: found)
    monkeypatch.setattr(sources, "training_backgrounds", lambda: [])
    return few


TINY_SCENES = ["scenes.per_class=2", "scenes.heldout_per_class=1"]


def test_prepare_then_run_uses_the_default(apps_home, few_sources):
    """`apps prepare vit` (the vit-camera recipe) with tiny overrides (the real build trains for minutes),
    then no --model."""
    from core.paths import default_model_dir

    result = invoke("prepare", "vit", "--no-download", *TINY_TRAINING, *TINY_SCENES)
    assert result.exit_code == 0, result.output
    assert "held-out scenes from reserved sources: accuracy" in result.output
    assert "handwritten test split (same source as training): accuracy" in result.output
    assert (default_model_dir("vit") / "vit_config.json").is_file()
    metrics = json.loads((default_model_dir("vit") / "eval" / "metrics.json").read_text())
    assert metrics["splits"]["test"]["samples"] == 450 and metrics["splits"]["heldout"]["samples"] == 15
    data = apps_home / "data" / "vit" / "camera-scenes"  # the dataset prepare built
    assert (data / "labels.txt").read_text().split() == LABELS + ["none"]
    assert len(list((data / "test").rglob("*.png"))) == 450  # held-out: real handwriting
    result = invoke("run", "vit", "--source", "synthetic://", "-n", "2", "--headless", "--json")
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert lines[-1]["model"] == str(default_model_dir("vit"))
    assert {"label", "score"} <= set(lines[0]["shown"])


def test_camera_recipe_renders_scenes_and_eval_reports_the_reserved_sources(apps_home, tmp_path, few_sources):
    """The vit-camera recipe with tiny overrides and a few typefaces and photographs: it renders the
    camera-scenes dataset (none included), and eval of a model with `none` reports both held-out figures."""
    run = tmp_path / "camera"
    result = invoke("train", "vit", "--recipe", "vit-camera", "-o", str(run), *TINY_TRAINING, *TINY_SCENES)
    assert result.exit_code == 0, result.output
    data = apps_home / "data" / "vit" / "camera-scenes"
    assert (data / "labels.txt").read_text().split() == LABELS + ["none"]
    # the recipe renders its training scenes afresh (scenes.fresh): no train/ folder, val/ from training sources
    assert not (data / "train").exists() and len(list((data / "val" / "none").glob("*.png"))) == 20
    # one epoch of fresh scenes: 14 classes once, none three times (scenes.none_repeat)
    assert json.loads((run / "run.json").read_text())["train_images"] == 2 * 17
    result = invoke("eval", "vit", "--model", str(run), "--json")
    assert result.exit_code == 0, result.output
    metrics = json_lines(result.stdout)[-1]
    assert metrics["splits"]["test"]["samples"] == 450  # the handwritten test split
    assert metrics["splits"]["heldout"]["samples"] == 15  # one scene of each class, none included
    assert "reserved" in metrics["splits"]["heldout"]["source"]
    assert 0 <= metrics["heldout_none_false_positive_rate"] <= 1


def test_fresh_scenes_render_a_new_scene_for_every_item(few_sources):
    """FreshScenes: one epoch cycles through the classes (none twice), and the same index never repeats."""
    from plugins.vit.camera_data import FreshScenes

    labels = LABELS + ["none"]
    scenes = FreshScenes(labels, per_class=3, size=32, mean=[0.5] * 3, std=[0.5] * 3)
    assert len(scenes) == 3 * 16
    first, again = scenes[1], scenes[1]
    assert first["labels"] == again["labels"] == 1 and first["pixel_values"].shape == (3, 32, 32)
    assert not np.array_equal(first["pixel_values"].numpy(), again["pixel_values"].numpy())
    assert sorted({scenes[i]["labels"] for i in range(16)}) == list(range(15))
    weighted = FreshScenes(labels, per_class=3, size=32, mean=[0.5] * 3, std=[0.5] * 3, none_repeat=3, warm=False)
    assert len(weighted) == 3 * 17 and weighted.order.count("none") == 3


def test_conv_stem_takes_one_depth_per_stage():
    """conv_stem_depth: one count for every stage, or a list with one per stage (the default's [2, 2, 2, 1]:
    no second convolution in the last stage, the slowest per frame); a list of the wrong length is an error."""
    import torch

    from plugins.vit.model import conv_stem

    def convs(depth):
        return sum(isinstance(m, torch.nn.Conv2d) for m in conv_stem(16, 4, 8, depth))

    assert (convs(1), convs(2), convs([2, 2, 2, 1])) == (4 + 1, 8 + 1, 7 + 1)  # + the 1x1 to the width
    assert conv_stem(16, 4, 8, [2, 2, 2, 1])(torch.randn(1, 3, 32, 32)).shape == (1, 8, 2, 2)
    with pytest.raises(AppsError, match="one count per stage"):
        conv_stem(16, 4, 8, [2, 2])


def test_conv_stem_batch_norms_are_folded_for_inference():
    """The live view's model folds the stem's batch norms into its convolutions: the same logits."""
    import torch

    from plugins.vit.model import TimmClassifier, fuse_conv_stem

    torch.manual_seed(0)
    args = {**TINY, "img_size": 32, "patch_size": 16, "conv_stem": 4, "conv_stem_depth": [2, 2, 2, 1]}
    args["init_values"] = 0.1
    model = TimmClassifier("vit_tiny_patch16_224", LABELS, args)
    model.train()(torch.randn(8, 3, 32, 32))  # batch statistics away from the identity
    vit = model.eval().model
    pixels = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        before = vit(pixels)
        fuse_conv_stem(vit)
        after = vit(pixels)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in vit.patch_embed.proj)
    assert vit.patch_embed.proj[0].weight.is_contiguous(memory_format=torch.channels_last)  # faster at batch 1
    assert torch.allclose(before, after, atol=1e-5)


def test_lora_recipe_trains_and_loads_merged(tmp_path, apps_home):
    from core import run_training
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from plugins.vit.app import VitApp
    from plugins.vit.model import load_classifier
    from plugins.vit.recipe import VitRecipe

    data = _image_folder(tmp_path / "data", per_class=4)
    path = get_manager().recipe_path("vit", "vit-tiny-digits-lora")
    overrides = [
        f"dataset={data}",
        "max_steps=2",
        "batch_size=4",
        "model_args.embed_dim=32",
        "model_args.depth=1",
        "model_args.num_heads=2",
        "logging_steps=1",
    ]
    run = run_training(VitApp(), load_recipe(VitRecipe, path, overrides), run_dir=tmp_path / "lora")
    assert (run / "adapter_config.json").is_file() and (run / "base" / "vit_config.json").is_file()
    classifier = load_classifier(str(run), "cpu", "fp32")
    image = np.full((40, 40, 3), 255, np.uint8)
    probs, heat = classifier.classify(classifier.preprocess(image)[None], attention=True)
    assert probs.shape == (1, 2) and heat.shape == (1, 2, 2)


def test_live_loop_survives_a_lost_camera(tiny_model, apps_home, tmp_path, capsys):
    """A camera that dies: the loop keeps going, reconnects, says so, and writes frames."""
    from core import hookimpl
    from core.media import Capture
    from core.plugins import get_manager
    from plugins.vit.app import VitApp
    from plugins.vit.live import run_live

    state = {"results": 0, "died": False}

    class DyingCamera(Capture):
        """Dies once 3 results are out; the next 2 reopen attempts fail (about 0.75 s without a picture)."""

        live, description, opens = True, "dying camera", 0

        def open(self):
            self.opens += 1
            if self.opens in (2, 3):
                raise AppsError("unplugged")

        def read(self):
            import time

            time.sleep(0.01)
            if state["results"] >= 3 and not state["died"]:
                state["died"] = True
                return None
            return np.full((60, 80, 3), 100, np.uint8)

    class Plugin:
        @staticmethod
        @hookimpl
        def register_sources(register):
            register(scheme="dying", opener=lambda uri, **options: DyingCamera())

        @staticmethod
        @hookimpl
        def on_result(result):
            state["results"] += 1

    get_manager().pm.register(Plugin, name="dying-camera")
    summary = run_live(
        VitApp(),
        source="dying://0",
        model=str(tiny_model),
        max_frames=15,
        headless=True,
        output=[str(tmp_path / "frames") + "/"],
    )
    assert summary["frames"] == 15 and summary["reconnects"] == 1
    assert "reconnecting" in capsys.readouterr().out
    assert len(list((tmp_path / "frames").glob("*.jpg"))) >= 15


def test_fast_preprocessing_gives_the_reference_pixels():
    import cv2

    from plugins.vit.data import fit_square, normalize

    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (9, 9), 3)
    reference = cv2.resize(frame[:, 80:560], (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32)
    fast = fit_square(frame, 224).astype(np.float32)
    assert fast.shape == (224, 224, 3) and np.abs(fast - reference).mean() < 0.5
    assert fit_square(frame[:100, :100], 224).shape == (224, 224, 3)  # small images are upscaled
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    rgb = fast[:, :, ::-1] / 255.0
    expected = ((rgb - np.asarray(mean)) / np.asarray(std)).transpose(2, 0, 1)
    result = normalize(fit_square(frame, 224), mean, std)
    assert result.dtype == np.float32 and result.flags.c_contiguous
    np.testing.assert_allclose(result, expected, atol=1e-5)


def test_benchmark_rows_and_their_bounds(apps_home, monkeypatch):
    """``apps bench vit`` on vit_tiny in fp32 and int8, one run of a few frames: every row is there, and
    the bounds are computed from the same run's figures."""
    import core
    from plugins.vit import bench

    samples = iter([100.0, 200.0, 90.0, 210.0])  # fp32, int8 before the layout; then after it
    monkeypatch.setattr(core, "measure_matmul_peak", lambda dtype="fp32", **_: next(samples))
    rows = {row["name"]: row for row in bench.benchmark(frames=4, layouts=["vit_tiny"], precisions=["fp32", "int8"], pairs=1)}
    for name in ("vit_tiny fp32", "vit_tiny int8 (onnxruntime)"):
        alone = rows[f"{name}: end-to-end vs model alone"]
        peer = rows[f"{name}: vs transformers pipeline loop"]
        peak = rows[f"{name}: model FLOP/s vs matmul peak"]
        assert alone["peer_value"] == max(alone["model_alone_one_call"], alone["model_alone_with_workers"])
        assert alone["side_cpu_ms"] > 0 and 0 < alone["overhead_bound"] < 1
        model_ms = 1000 * alone["threads"] / alone["peer_value"]
        assert alone["overhead_bound"] == pytest.approx(model_ms / (model_ms + alone["side_cpu_ms"]), abs=2e-3)
        assert peer["peer"].endswith("fp32") and len(peer["pair_ratios"]) == 1
        gflops = peak["gflops_per_frame"]
        assert gflops == pytest.approx(2.15, rel=0.05)  # vit_tiny at 224: the same count in int8
        assert peer["peak_bound_ratio"] == pytest.approx(peak["peer_value"] / (gflops * peer["peer_value"]), rel=0.02)
    default = next(row for name, row in rows.items() if name.startswith("offline default: camera architecture"))
    assert default["value"] > 0 and default["peer_value"] > 0 and len(default["pair_ratios"]) == 1
    # the best sample of each precision's peak
    assert rows["vit_tiny fp32: model FLOP/s vs matmul peak"]["peer_value"] == 100.0
    assert rows["vit_tiny int8 (onnxruntime): model FLOP/s vs matmul peak"]["peak_samples"] == [200.0, 210.0]


def test_soak_script_runs_the_live_loop_through_a_dropping_camera(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "soak_vit.py"
    done = subprocess.run(
        [sys.executable, str(script), "--frames", "60", "--dropout-every", "20", "--max-growth-mb", "500"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json_lines(done.stdout)[-1]
    assert report["ok"] and report["frames"] == 60 and report["reconnects"] >= report["dropouts"] >= 2


def test_benchmark_on_cuda_without_a_gpu_is_a_clear_error(apps_home):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = CliRunner().invoke(cli, ["bench", "vit", "--device", "cuda"])
    assert result.exit_code != 0 and isinstance(result.exception, AppsError)
    assert "CUDA is not available" in str(result.exception)
