"""The camera-scenes dataset, the vit offline default's data: scenes rendered by plugins/vit/scenes.py from
the training sources (train/, val/), the reserved sources only (heldout/), and the handwritten test split."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np

from plugins.vit.data import (
    CAMERA_DATASET,
    CAMERA_LABELS,
    HELDOUT_SPLIT,
    NONE,
    handwritten_split,
    manifest_matches,
    write_labels_file,
)
from plugins.vit.scenes import PROCEDURAL


def build_camera_dataset(
    root: str | Path,
    per_class: int = 1200,
    heldout_per_class: int = 200,
    size: int = 48,
    seed: int = 0,
    workers: int = 2,
    fresh: bool = False,
    procedural: float = PROCEDURAL,
    marks: float = 0.0,
) -> Path:
    """Write the camera-scenes dataset to ``root`` (kept when its manifest matches).

    train/val: scenes from the training typefaces and backgrounds (``none``: twice ``per_class``), with the
    train/val parts of scikit-learn's handwritten digits; test: the held-out handwritten test split (plain
    scans, as the digits-shapes dataset has them); heldout: scenes from the reserved typefaces and photographs
    only (plugins/vit/sources.py), never trained on. ``fresh``: no train/ folder; training renders its scenes
    afresh as it goes (:class:`FreshScenes`). ``procedural``: the share of procedural backgrounds in train/val;
    ``marks``: the share of their backgrounds with many small marks
    (``scenes.add_marks``).
    """
    import shutil

    import cv2

    from plugins.vit import scenes, sources

    root = Path(root)
    summary = sources.source_summary()
    manifest = {"name": CAMERA_DATASET, "version": 3, "seed": seed, "per_class": per_class, "size": size,
                "heldout_per_class": heldout_per_class, "fresh": fresh, "procedural": float(procedural), "marks": marks,
                "sources": summary}  # fmt: skip
    manifest_path = root / "dataset.json"
    if manifest_matches(manifest_path, manifest):
        return root
    _warn_missing_sources(summary)
    print(f"rendering the camera scenes into {root} (training typefaces and wallpapers; heldout/ from the "
          "reserved ones) ...", file=sys.stderr)  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    raw, (_, _, test_idx) = _handwritten(seed)
    training = {split: training_sources(split, seed, procedural, marks) for split in ("train", "val")}
    reserved = scenes.Sources(
        sources.reserved_fonts(), sources.reserved_photos(), stroke_digits=False, procedural=0.0
    )
    if not reserved.fonts or not reserved.backgrounds:
        print(
            "note: no reserved typefaces or photographs: the heldout split has no scenes from them",
            file=sys.stderr,
        )
    counts = {label: per_class * (2 if label == NONE else 1) for label in CAMERA_LABELS}
    for number, (split, kind, source, split_counts) in enumerate(
        (
            ("train", "train", training["train"], counts),
            ("val", "val", training["val"], {k: max(20, v // 10) for k, v in counts.items()}),
            (HELDOUT_SPLIT, "reserved", reserved, {label: heldout_per_class for label in CAMERA_LABELS}),
        )
    ):
        if (split == HELDOUT_SPLIT and not (reserved.fonts and reserved.backgrounds)) or (
            split == "train" and fresh
        ):
            continue
        scenes.render_split(root / split, kind, source, split_counts, seed * 100 + number, size, workers)
    for i in test_idx:  # the handwritten test split, as in digits-shapes: 32x32 dark ink on paper
        folder = root / "test" / str(raw[i][1])
        folder.mkdir(parents=True, exist_ok=True)
        gray = (255 - raw[i][0] * (255.0 / 16.0)).astype(np.uint8)
        cv2.imwrite(
            str(folder / f"real_{i:04d}.png"), cv2.resize(gray, (32, 32), interpolation=cv2.INTER_LINEAR)
        )
    write_labels_file(root / "labels.txt", CAMERA_LABELS)
    manifest["source"] = (
        "camera scenes: training typefaces and wallpapers + procedural scenes + scikit-learn handwritten "
        "digits; heldout: reserved typefaces (URW base35, WenQuanYi, DejaVu) over reserved photographs "
        "(scikit-image, scikit-learn, matplotlib, gradio samples)"
    )
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return root


@functools.lru_cache(maxsize=2)
def _handwritten(seed: int):
    """scikit-learn's handwritten digits as (8x8 image, digit) pairs, and their train/val/test indices."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    raw = [(image, int(t)) for image, t in zip(digits.images, digits.target, strict=True)]
    return raw, handwritten_split([t for _, t in raw], seed)


def training_sources(split: str = "train", seed: int = 0, procedural: float = PROCEDURAL, marks: float = 0.0):
    """What the scenes of ``split`` (train or val) are drawn from: the training typefaces and backgrounds,
    and that split's part of the handwritten digits (the test part is never drawn); ``procedural``: the
    share of procedural backgrounds; ``marks``: of backgrounds with many small marks (``scenes.add_marks``)."""
    from plugins.vit import scenes, sources

    raw, (train_idx, val_idx, _) = _handwritten(seed)
    indices = train_idx if split == "train" else val_idx
    return scenes.Sources(
        sources.training_fonts(),
        sources.training_backgrounds(),
        [raw[i] for i in indices],
        procedural=float(procedural),
        marks=float(marks),
    )


class FreshScenes:
    """The training split rendered afresh: every item is a new scene (``render_scene``), so an epoch never
    repeats the last one and no PNG is written or decoded. Items cycle through the classes (``none``
    ``none_repeat`` times as often; twice by default, as in the rendered split); ``__len__`` is one epoch.
    The typefaces, glyphs and backgrounds are loaded here, before the DataLoader's workers fork, and each
    worker draws from its own generator (torch gives every worker of every epoch its own seed)."""

    def __init__(
        self, labels: list[str], per_class: int, size: int, mean, std, seed: int = 0, warm: bool = True,
        none_repeat: int = 2, procedural: float = PROCEDURAL, marks: float = 0.0,
    ):  # fmt: skip
        from plugins.vit import scenes

        self.labels, self.size, self.mean, self.std, self.seed = list(labels), size, mean, std, seed
        self.order = [label for label in self.labels for _ in range(none_repeat if label == NONE else 1)]
        self.length = per_class * len(self.order)
        self.cache = scenes.glyph_cache("fresh-train", training_sources("train", seed, procedural, marks))
        if warm:  # the typefaces' digit masks, drawn once here rather than again in every worker
            for font in self.cache.fonts:
                for digit in range(10):
                    self.cache.text_mask(font, str(digit))
        self._rng: tuple | None = None
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return self.length

    def rng(self) -> np.random.Generator:
        import torch

        info = torch.utils.data.get_worker_info()
        key = info.seed if info is not None else None
        if self._rng is None or self._rng[0] != key:
            self._rng = (key, np.random.default_rng(key if key is not None else self.seed))
        return self._rng[1]

    def __getitem__(self, index: int) -> dict:
        import torch

        from plugins.vit.data import normalize
        from plugins.vit.scenes import render_scene

        label = self.order[index % len(self.order)]
        image = render_scene(label, self.cache, self.rng(), self.size)
        return {"pixel_values": torch.from_numpy(normalize(image, self.mean, self.std)),
                "labels": self.labels.index(label)}  # fmt: skip


def _warn_missing_sources(summary: dict) -> None:
    from plugins.vit import sources

    if summary["training_fonts"] < 20:
        print(f"note: only {summary['training_fonts']} training typefaces found; install "
              f"{sources.TRAINING_FONT_PACKAGES} for more (make system-deps)", file=sys.stderr)  # fmt: skip
    if summary["training_backgrounds"] < 10:
        print(f"note: only {summary['training_backgrounds']} background images found; the scenes are mostly "
              f"procedural. Install {sources.TRAINING_BACKGROUND_PACKAGES} for photographs", file=sys.stderr)  # fmt: skip


def load_camera_dataset(existing: bool = False, **options) -> Path:
    """The registered ``camera-scenes`` dataset: rendered on first use (minutes), then reused. ``options``
    go to build_camera_dataset (rendered again when they differ); ``existing``: take the dataset there is,
    whatever its options (what ``apps eval`` does: the held-out set the default was built beside)."""
    from core import data_dir

    root = data_dir("vit") / CAMERA_DATASET
    if existing and (root / "dataset.json").is_file():
        return root
    return build_camera_dataset(root, **options)
