"""The vit app's camera default: reserved sources kept out of training, the scene renderer, the dataset
layout (none/, heldout/, the handwritten test split), eval's none false positives, and the live view's
steady label. Tiny sizes only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
pytest.importorskip("PIL")

from plugins.vit import scenes, sources  # noqa: E402
from plugins.vit.camera_data import build_camera_dataset  # noqa: E402
from plugins.vit.data import CAMERA_LABELS  # noqa: E402


def test_reserved_sources_are_never_training_sources():
    assert sources.is_reserved_font(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))
    assert sources.is_reserved_font(Path("/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf"))
    assert sources.is_reserved_font(Path("/usr/share/fonts/opentype/urw-base35/C059-Roman.otf"))
    assert sources.is_reserved_font(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"))
    assert not sources.is_reserved_font(Path("/usr/share/fonts/truetype/noto/NotoSerif-Italic.ttf"))
    assert not sources.is_reserved_font(Path("/usr/share/fonts/truetype/liberation2/LiberationMono-Bold.ttf"))
    training, reserved = set(sources.training_fonts()), set(sources.reserved_fonts())
    assert not training & reserved
    assert not any(sources.is_reserved_font(p) for p in training)
    photos = sources.reserved_photos()
    assert any("matplotlib" in str(p) for p in photos)  # matplotlib is a dependency: its samples are found
    assert not set(photos) & set(sources.training_backgrounds())
    assert not any("site-packages" in str(p) for p in sources.training_backgrounds())


def test_no_training_background_is_a_reserved_photograph_by_content():
    """Not the same file under another name either (a package that copied a sample image)."""
    import hashlib

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    reserved = {digest(p) for p in sources.reserved_photos()}
    assert not [p for p in sources.training_backgrounds() if digest(p) in reserved]


def test_visp_frames_are_its_camera_frames_only(tmp_path):
    """visp-images-data: every n-th frame of its camera sequences; not its synthetic shapes, dot targets or
    the snapshots annotated with digits."""
    kept = ["mbt/cube/image0000.pgm", "mbt/cube/image0010.pgm", "cube/image.0000.pgm", "AprilTag/AprilTag.pgm",
            "mbt-depth/castel/castel/image_0000.pgm", "line/image.0001.pgm", "Klimt/Klimt.png"]  # fmt: skip
    skipped = ["mbt/cube/image0001.pgm", "mbt/cube.ppm", "mbt-depth/castel/chateau.ppm", "calibration/grid36-01.pgm",
               "mire-2/image.0001.pgm", "mire/mire.jpg", "ellipse-1/image.0001.pgm", "circle/circle.ppm",
               "mbt-depth/Castle-simu/Images/Image_0001.pgm", "AprilTag/benchmark/640x480/tag16_05_640x480.png",
               "Klimt/Klimt.pgm", "warp/cv_warp_affine_SRT_color_NN.png"]  # fmt: skip
    for name in kept + skipped + [f"mbt/cube/image{n:04d}.pgm" for n in range(2, 10)]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert sorted(str(p.relative_to(tmp_path)) for p in sources.visp_frames(tmp_path)) == sorted(kept)
    assert sources.visp_frames(tmp_path / "missing") == []


@pytest.fixture
def few_sources(monkeypatch):
    """A handful of typefaces and photographs, so that the renderer starts in a second."""
    training, photos = sources.training_fonts()[:3], sources.reserved_photos()[:2]
    reserved = [p for p in sources.reserved_fonts() if "DejaVuSans" in p.name][:2]
    if not training or not reserved:
        pytest.skip("no training or reserved typefaces installed (make system-deps)")
    monkeypatch.setattr(sources, "training_fonts", lambda: training)
    monkeypatch.setattr(sources, "reserved_fonts", lambda: reserved)
    monkeypatch.setattr(sources, "training_backgrounds", lambda: [])
    monkeypatch.setattr(sources, "reserved_photos", lambda: photos)
    return training, reserved


def test_every_class_renders_as_a_camera_frame(few_sources):
    training, _ = few_sources
    from sklearn.datasets import load_digits

    digits = load_digits()
    handwritten = [(image, int(t)) for image, t in zip(digits.images[:50], digits.target[:50], strict=True)]
    cache = scenes.GlyphCache(scenes.Sources(training, [], handwritten))
    assert cache.fonts, "the typefaces have digits"
    rng = np.random.default_rng(0)
    frames = {
        label: [scenes.render_scene(label, cache, rng, 48) for _ in range(6)] for label in CAMERA_LABELS
    }
    for label, images in frames.items():
        for image in images:
            assert image.shape == (48, 48, 3) and image.dtype == np.uint8, label
            assert image.std() > 3, f"{label}: a blank frame"
    # same seed, same frame: the dataset is reproducible
    again = scenes.render_scene("7", cache, np.random.default_rng(5), 48)
    assert np.array_equal(again, scenes.render_scene("7", cache, np.random.default_rng(5), 48))


def test_marks_are_small_and_only_drawn_when_asked(few_sources):
    """Many small marks behind any card, never larger than a card's smallest glyph; at a share of 0 the
    background draws nothing more from the generator, so the held-out scenes stay as they were rendered."""
    training, _ = few_sources
    cache = scenes.GlyphCache(scenes.Sources(training, [], procedural=1.0, marks=1.0))
    rng = np.random.default_rng(1)
    for _ in range(20):
        plain = np.full((96, 96, 3), 128, np.uint8)
        marked = scenes.add_marks(plain, cache, rng)
        assert marked.shape == plain.shape and marked.dtype == np.uint8
    for label in ("none", "7", "star"):
        assert scenes.render_scene(label, cache, rng, 48).shape == (48, 48, 3)
    without = scenes.GlyphCache(scenes.Sources(training, [], procedural=1.0), like=cache)
    first, second = np.random.default_rng(3), np.random.default_rng(3)
    scenes.background(96, without, first)
    scenes.procedural_background(96, second)
    assert first.random() == second.random()


def test_scene_options_reach_the_training_sources(few_sources, tmp_path):
    from plugins.vit.camera_data import training_sources

    assert training_sources("val", 0).procedural == scenes.PROCEDURAL
    assert training_sources("val", 0).marks == 0.0
    options = training_sources("train", 0, procedural=0.2, marks=0.3)
    assert (options.procedural, options.marks) == (0.2, 0.3)
    root = build_camera_dataset(tmp_path / "scenes", per_class=1, heldout_per_class=1, size=32, workers=1,
                                fresh=True, marks=0.3)  # fmt: skip
    manifest = json.loads((root / "dataset.json").read_text())
    assert (manifest["procedural"], manifest["marks"]) == (scenes.PROCEDURAL, 0.3)


def test_camera_dataset_layout(few_sources, tmp_path):
    root = build_camera_dataset(tmp_path / "scenes", per_class=2, heldout_per_class=1, size=32, workers=1)
    assert (root / "labels.txt").read_text().split() == CAMERA_LABELS
    assert len(list((root / "train" / "none").glob("*.png"))) == 4  # none: twice the others
    assert len(list((root / "train" / "star").glob("*.png"))) == 2
    assert {p.name for p in (root / "heldout").iterdir()} == set(CAMERA_LABELS)
    assert len(list((root / "test").rglob("real_*.png"))) == 450  # the handwritten test split
    assert {p.name for p in (root / "test").iterdir()} == {str(d) for d in range(10)}
    manifest = json.loads((root / "dataset.json").read_text())
    assert manifest["sources"]["reserved_fonts"] == 2 and "reserved" in manifest["source"]
    assert cv2.imread(str(next((root / "heldout" / "3").glob("*.png")))).shape == (32, 32, 3)


class _BrightIsNone:
    """A stand-in classifier: bright images are `none`, dark ones `3`."""

    name, labels = "stand-in", CAMERA_LABELS

    def preprocess(self, image):
        return np.array([image.mean()], np.float32)

    def classify(self, batch):
        probs = np.zeros((len(batch), len(self.labels)), np.float32)
        for row, value in zip(probs, batch[:, 0], strict=True):
            row[self.labels.index("none" if value > 128 else "3")] = 1
        return probs, None


def test_eval_counts_none_false_positives(tmp_path):
    from plugins.vit.evaluate import evaluate

    data = tmp_path / "data"
    for label, values in (("none", (250, 250, 250, 10)), ("3", (10, 10, 250))):
        (data / label).mkdir(parents=True)
        for n, value in enumerate(values):
            cv2.imwrite(str(data / label / f"{n}.png"), np.full((16, 16, 3), value, np.uint8))
    metrics = evaluate(data=str(data), output=str(tmp_path / "eval"), classifier=_BrightIsNone(), quiet=True)
    assert metrics["none_false_positive_rate"] == 0.25  # one of four scenes without a card named a class
    assert metrics["per_class"]["none"] == {"accuracy": 0.75, "support": 4}
    assert metrics["accuracy_without_none"] == round(2 / 3, 4)
    assert metrics["accuracy"] == round(5 / 7, 4)


def test_live_label_is_steady_and_says_nothing_recognised():
    from core import AppsError
    from plugins.vit.live import NOTHING, LabelSmoother

    labels = ["3", "8", "none"]
    smoother = LabelSmoother(labels, window=4)
    shown = [smoother.update(p)[0]["label"] for p in ([0.9, 0.1, 0], [0.45, 0.55, 0], [0.55, 0.45, 0]) * 3]
    assert set(shown) == {"3"}  # a frame now and then where 8 leads a little: the label stays
    shown = [smoother.update([0.05, 0.95, 0])[0]["label"] for _ in range(4)]
    assert shown[-1] == "8"  # a clear, lasting change comes through
    shown, top = smoother.update([0, 0, 1])
    assert shown["label"] == "8"  # one frame of none does not switch
    for _ in range(4):
        shown, top = smoother.update([0, 0, 1])
    assert shown["label"] == NOTHING and top[0]["label"] == NOTHING
    raw = LabelSmoother(labels, window=1)
    assert [raw.update(p)[0]["label"] for p in ([0.6, 0.4, 0], [0.4, 0.6, 0])] == ["3", "8"]
    sure = LabelSmoother(labels, window=1, threshold=0.7)
    assert sure.update([0.6, 0.3, 0.1])[0]["label"] == NOTHING  # below the live threshold
    assert sure.update([0.8, 0.1, 0.1])[0]["label"] == "3"
    with pytest.raises(AppsError):
        LabelSmoother(labels, threshold=1.5)


def test_the_demo_opens_on_the_vit_tab():
    from core.demo import demo_apps
    from core.plugins import get_manager

    assert next(iter(get_manager().apps())) == "vit"  # through App.order, not a name in the core
    assert demo_apps(None)[0].name == "vit"


def test_a_conv_stem_vit_saves_loads_and_keeps_its_token_grid(tmp_path):
    import torch

    from plugins.vit.model import TimmClassifier, load_classifier

    args = {"img_size": 48, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "conv_stem": 8}
    model = TimmClassifier("vit_tiny_patch16_224", CAMERA_LABELS, args).eval()
    assert isinstance(model.model.patch_embed.proj, torch.nn.Sequential)
    model.save_pretrained(tmp_path / "m")
    classifier = load_classifier(str(tmp_path / "m"), "cpu", "fp32")
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    batch = classifier.preprocess(image)[None]
    probs, heat = classifier.classify(batch, attention=True)
    with torch.inference_mode():
        expected = torch.softmax(model(torch.from_numpy(batch)).logits, -1).numpy()
    assert np.allclose(probs, expected, atol=1e-5) and heat.shape == (1, 6, 6)
