"""Image data for the vit app: ImageFolder datasets, the offline default dataset, augmentation.

Layout (as jetson-inference users know it)::

    DATA/labels.txt            one class name per line (optional; else the folder names, sorted)
    DATA/train/<class>/*.jpg
    DATA/val/<class>/*.jpg
    DATA/test/<class>/*.jpg    (optional)

A folder of class sub-folders without splits is accepted wherever a single split is read (``apps eval
--data``). Images are read with OpenCV: grayscale, RGBA and 16-bit images are converted, unreadable files
are skipped and counted. Everything here is numpy/OpenCV; torch is imported only by the dataset class.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import AppsError, read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
SPLITS = ("train", "val", "test")
DIGITS = [str(d) for d in range(10)]
SHAPES = ["circle", "square", "triangle", "star"]
DEFAULT_LABELS = DIGITS + SHAPES
DEFAULT_DATASET = "digits-shapes"  # the registered dataset the recipes train on
NONE = "none"  # the class of frames with no card, or nothing the model knows
CAMERA_LABELS = DIGITS + SHAPES + [NONE]
CAMERA_DATASET = "camera-scenes"  # the offline default's dataset: camera scenes (plugins/vit/scenes.py)
HELDOUT_SPLIT = "heldout"  # rendered from the reserved typefaces and photographs only


# ---- folder layout --------------------------------------------------------------------------------
@dataclass
class Split:
    """One split of an image folder: files and their class indices, plus what was skipped."""

    root: Path
    labels: list[str]
    files: list[Path] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)


def read_labels_file(path: Path) -> list[str]:
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(labels)) != len(labels):
        duplicates = sorted({name for name in labels if labels.count(name) > 1})
        raise AppsError(f"labels.txt lists {', '.join(duplicates)} more than once", where=str(path))
    return labels


def write_labels_file(path: Path, labels: list[str]) -> None:
    path.write_text("".join(f"{name}\n" for name in labels), encoding="utf-8")


def class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def dataset_labels(root: Path) -> list[str]:
    """The class names of a dataset: labels.txt when present (checked against the folders), else folders."""
    root = Path(root)
    if not root.is_dir():
        raise AppsError(f"dataset folder {root} does not exist", hint="give a folder of class sub-folders")
    splits = [root / s for s in SPLITS if (root / s).is_dir()] or [root]
    folders = sorted({name for split in splits for name in class_folders(split)})
    labels_path = root / "labels.txt"
    if labels_path.is_file():
        labels = read_labels_file(labels_path)
        unknown = [name for name in folders if name not in labels]
        if unknown:
            raise AppsError(
                f"class folders {', '.join(unknown)} are not listed in labels.txt",
                where=str(labels_path),
                hint="add them to labels.txt (one name per line) or remove the folders",
            )
        return labels
    if not folders:
        raise AppsError(f"{root} has no class sub-folders", hint="expected ROOT/[train|val|test/]CLASS/*.jpg")
    return folders


def resolve_split(root: Path, split: str | None) -> Path:
    """ROOT/split when the dataset has splits, else ROOT itself (a plain folder of class folders)."""
    root = Path(root)
    has_splits = any((root / s).is_dir() for s in SPLITS)
    if not has_splits:
        return root
    if split is None:
        split = "test" if (root / "test").is_dir() else "val"
    if not (root / split).is_dir():
        present = [s for s in SPLITS if (root / s).is_dir()]
        raise AppsError(f"{root} has no '{split}' split", hint=f"it has: {', '.join(present)}")
    return root / split


def scan_split(folder: Path, labels: list[str], require_all: bool = False) -> Split:
    """List image files per class. Class folders not in ``labels`` are an error; empty ones are noted."""
    folder = Path(folder)
    split = Split(root=folder, labels=labels)
    if not folder.is_dir():
        raise AppsError(f"{folder} does not exist")
    present = class_folders(folder)
    unknown = [name for name in present if name not in labels]
    if unknown:
        raise AppsError(
            f"{folder} has class folders {', '.join(unknown)} that the model's labels do not contain",
            hint=f"the model knows: {', '.join(labels[:30])}{' ...' if len(labels) > 30 else ''}",
        )
    for index, name in enumerate(labels):
        class_dir = folder / name
        files = (
            sorted(p for p in class_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if class_dir.is_dir()
            else []
        )
        if not files and (class_dir.is_dir() or require_all):
            split.empty_classes.append(name)
        split.files += files
        split.targets += [index] * len(files)
    if require_all and split.empty_classes:
        raise AppsError(
            f"class folder(s) {', '.join(split.empty_classes)} in {folder} hold no images",
            hint="add images (apps collect vit --label NAME) or remove the class from labels.txt and the folders",
        )
    if not split.files:
        raise AppsError(f"{folder} holds no images", hint=f"image types read: {' '.join(IMAGE_SUFFIXES)}")
    return split


# ---- geometry and normalisation (shared by training, eval and the live loop) -----------------------
def center_square(image: np.ndarray, crop_pct: float = 1.0) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(1, int(round(min(h, w) * crop_pct)))
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def fit_square(image: np.ndarray, size: int, crop_pct: float = 1.0) -> np.ndarray:
    """Centre square crop and resize to ``size`` x ``size`` (BGR uint8 in and out)."""
    import cv2

    square = center_square(image, crop_pct)
    side = square.shape[0]
    if side == size:
        return square
    if side < size:
        return cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR)
    factor = side // size
    if factor >= 2 and side != factor * size:
        # INTER_AREA at a fractional ratio (480 -> 224) costs 1.8 ms a frame, at a whole one 4x less: a
        # slight linear step to factor x size first (480 -> 448) gives the same pixels (mean |diff| 0.1).
        square = cv2.resize(square, (factor * size, factor * size), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def normalize(square_bgr: np.ndarray, mean, std) -> np.ndarray:
    """BGR uint8 HxWx3 -> RGB float32 3xHxW normalised by mean/std (given in RGB order, 0..1 scale)."""
    # One channel at a time, straight into the output: 8x faster than converting the whole image first.
    out = np.empty((3, *square_bgr.shape[:2]), dtype=np.float32)
    for channel in range(3):
        np.subtract(square_bgr[:, :, 2 - channel], 255.0 * mean[channel], out=out[channel], dtype=np.float32)
        out[channel] *= 1.0 / (255.0 * std[channel])
    return out


# ---- augmentation ---------------------------------------------------------------------------------
def augment(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Strong, cheap augmentation with OpenCV: affine, stroke width, blur, noise, light and colour."""
    import cv2

    size = image.shape[0]
    s = strength
    angle = rng.uniform(-15, 15) * s
    scale = 1 + rng.uniform(-0.35, 0.1) * s  # digits held to a camera rarely fill the frame
    shear = rng.uniform(-0.15, 0.15) * s
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[0, 1] += shear
    matrix[:, 2] += rng.uniform(-0.1, 0.1, size=2) * size * s
    image = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if rng.random() < 0.3 * s:  # thinner or bolder strokes
        kernel = np.ones((2, 2), np.uint8)
        image = cv2.erode(image, kernel) if rng.random() < 0.5 else cv2.dilate(image, kernel)
    if rng.random() < 0.3 * s:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 1.2))
    out = image.astype(np.float32)
    contrast = 1 + rng.uniform(-0.4, 0.2) * s
    brightness = rng.uniform(-40, 30) * s
    tint = 1 + rng.uniform(-0.15, 0.15, size=3) * s  # coloured light / paper
    out = (out - 128) * contrast + 128 + brightness
    out *= tint
    if rng.random() < 0.4 * s:
        out += rng.normal(0, rng.uniform(2, 12), size=out.shape)
    if rng.random() < 0.3 * s:  # uneven lighting across the sheet
        ramp = np.linspace(-1, 1, size, dtype=np.float32)
        gradient = ramp[None, :] if rng.random() < 0.5 else ramp[:, None]
        out += gradient[:, :, None] * rng.uniform(-35, 35)
    return np.clip(out, 0, 255).astype(np.uint8)


def manifest_matches(path: Path, manifest: dict) -> bool:
    """Whether a generated dataset's ``dataset.json`` was written with these settings (then it is reused)."""
    try:
        return {k: v for k, v in json.loads(path.read_text()).items() if k in manifest} == manifest
    except (OSError, ValueError):
        return False


# ---- the offline default dataset ------------------------------------------------------------------
FONTS = ("SIMPLEX", "DUPLEX", "COMPLEX", "TRIPLEX", "SCRIPT_SIMPLEX", "SCRIPT_COMPLEX", "PLAIN", "ITALIC")


def render_digit(digit: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A digit drawn by OpenCV's Hershey fonts, dark ink on light paper, roughly centred."""
    import cv2

    canvas = np.full((size * 4, size * 4), 255, np.uint8)
    name = FONTS[rng.integers(len(FONTS))]
    font = (
        getattr(cv2, "FONT_HERSHEY_" + name)
        if name != "ITALIC"
        else cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC
    )
    thickness = int(rng.integers(3, 10))
    scale = 4.0
    (w, h), _ = cv2.getTextSize(str(digit), font, scale, thickness)
    x, y = (canvas.shape[1] - w) // 2, (canvas.shape[0] + h) // 2
    cv2.putText(canvas, str(digit), (x, y), font, scale, int(rng.integers(0, 80)), thickness, cv2.LINE_AA)
    return _crop_to_ink(canvas, size, rng)


def render_shape(shape: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    import cv2

    big = size * 4
    canvas = np.full((big, big), 255, np.uint8)
    centre = np.array([big / 2, big / 2])
    radius = big * rng.uniform(0.28, 0.42)
    ink = int(rng.integers(0, 80))
    thickness = -1 if rng.random() < 0.4 else int(rng.integers(6, 16))
    rotation = rng.uniform(0, 2 * math.pi)
    if shape == "circle":
        axes = (int(radius), int(radius * rng.uniform(0.85, 1.0)))
        cv2.ellipse(
            canvas,
            tuple(centre.astype(int)),
            axes,
            math.degrees(rotation),
            0,
            360,
            ink,
            thickness,
            cv2.LINE_AA,
        )
    else:
        corners = {"square": 4, "triangle": 3, "star": 10}[shape]
        angles = rotation + np.arange(corners) * 2 * math.pi / corners
        radii = np.full(corners, radius)
        if shape == "star":
            radii[1::2] *= rng.uniform(0.35, 0.5)
        points = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
        points = points + rng.normal(0, big * 0.01, points.shape)
        points = points.astype(np.int32).reshape(-1, 1, 2)
        if thickness < 0:
            cv2.fillPoly(canvas, [points], ink, cv2.LINE_AA)
        else:
            cv2.polylines(canvas, [points], True, ink, thickness, cv2.LINE_AA)
    return _crop_to_ink(canvas, size, rng)


def _crop_to_ink(canvas: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Crop around the ink with a margin like the real digits' (ink fills ~70-90% of the square)."""
    import cv2

    ys, xs = np.nonzero(canvas < 200)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    side = max(bottom - top, right - left) / rng.uniform(0.7, 0.9)
    cy, cx = (top + bottom) / 2, (left + right) / 2
    matrix = np.float32(
        [[size / side, 0, size / 2 - cx * size / side], [0, size / side, size / 2 - cy * size / side]]
    )
    return cv2.warpAffine(canvas, matrix, (size, size), flags=cv2.INTER_AREA, borderValue=255)


def real_digit_images(size: int = 32):
    """scikit-learn's handwritten digits (1,797 scans, 8x8, shipped inside sklearn), as dark ink on paper."""
    import cv2
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for image in digits.images:
        gray = (255 - image * (255.0 / 16.0)).astype(np.uint8)
        images.append(cv2.resize(gray, (size, size), interpolation=cv2.INTER_LINEAR))
    return images, [int(t) for t in digits.target]


def handwritten_split(targets: list[int], seed: int = 0):
    """Indices of scikit-learn's digits in train, val and test (stratified; test held out)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(targets))
    train_idx, test_idx = train_test_split(index, test_size=0.25, stratify=targets, random_state=seed)
    train_idx, val_idx = train_test_split(
        train_idx, test_size=0.12, stratify=[targets[i] for i in train_idx], random_state=seed
    )
    return train_idx, val_idx, test_idx


def build_default_dataset(
    root: str | Path, seed: int = 0, rendered_per_class: int = 160, size: int = 32
) -> Path:
    """Write the offline default dataset to ``root`` (idempotent: kept when its manifest matches).

    train/val: real handwritten digits plus OpenCV-rendered digits and shapes; test: held-out real
    handwritten digits only (what the accuracy of the offline default is measured on).
    """
    import cv2

    root = Path(root)
    manifest = {
        "name": "digits-shapes",
        "version": 1,
        "seed": seed,
        "rendered_per_class": rendered_per_class,
        "size": size,
    }
    manifest_path = root / "dataset.json"
    if manifest_matches(manifest_path, manifest):
        return root
    rng = np.random.default_rng(seed)
    images, targets = real_digit_images(size)
    train_idx, val_idx, test_idx = handwritten_split(targets, seed)
    counts: dict[str, int] = {}

    def save(split: str, label: str, name: str, image: np.ndarray) -> None:
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{name}.png"), image)
        counts[split] = counts.get(split, 0) + 1

    for split, indices in (("train", train_idx), ("val", val_idx), ("test", test_idx)):
        for i in indices:
            save(split, str(targets[i]), f"real_{i:04d}", images[i])
    for split, count in (("train", rendered_per_class), ("val", max(4, rendered_per_class // 8))):
        for label in DEFAULT_LABELS:
            for n in range(count if label in SHAPES else count // 2):
                if label in SHAPES:
                    image = render_shape(label, rng, size)
                else:
                    image = render_digit(int(label), rng, size)
                save(split, label, f"render_{n:04d}", image)
    write_labels_file(root / "labels.txt", DEFAULT_LABELS)
    manifest["counts"] = counts
    manifest["source"] = "scikit-learn digits (UCI optdigits) + OpenCV-rendered digits and shapes"
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return root


def default_dataset_root() -> Path:
    from core import data_dir

    return data_dir("vit") / DEFAULT_DATASET


def load_default_dataset(**_options) -> Path:
    """The registered ``digits-shapes`` dataset: built on first use (seconds), then reused."""
    return build_default_dataset(default_dataset_root())


def resolve_dataset(name_or_path: str | None, **options) -> Path:
    """A registered dataset name (its loader returns a folder) or an ImageFolder path. ``options`` (the
    recipe's ``scenes``) go to the camera-scenes renderer."""
    if not name_or_path or name_or_path == DEFAULT_DATASET:
        return load_default_dataset()
    from core import get_manager, suggest

    known = get_manager().datasets("vit")
    if name_or_path in known:
        loader = known[name_or_path]["loader"]
        return Path(loader(**options) if options else loader())
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise AppsError(
            f"dataset '{name_or_path}' is neither a registered dataset nor a folder",
            hint=suggest(name_or_path, known) + "; or give a folder with train/ and val/",
        )
    return path


# ---- torch dataset --------------------------------------------------------------------------------
class ImageFolderDataset:
    """Map-style dataset over one split: items are ``{"pixel_values": tensor, "labels": int}``.

    Images are decoded once and cached as ``image_size`` squares so that epochs are cheap; unreadable files are skipped and counted in ``skipped``.
    """

    def __init__(
        self,
        split: Split,
        image_size: int,
        mean,
        std,
        train: bool = False,
        seed: int = 0,
        crop_pct: float = 1.0,
        augment_strength: float = 1.0,
    ):
        self.image_size, self.mean, self.std = image_size, mean, std
        self.train, self.crop_pct, self.strength = train, crop_pct, augment_strength
        self.labels = split.labels
        self.rng = np.random.default_rng(seed)
        self.images: list[np.ndarray] = []
        self.targets: list[int] = []
        self.skipped: list[str] = []
        for path, target in zip(split.files, split.targets, strict=True):
            image = read_image(path)
            if image is None:
                self.skipped.append(str(path))
                continue
            self.images.append(fit_square(image, image_size, crop_pct))
            self.targets.append(target)
        if not self.images:
            raise AppsError(f"no readable images in {split.root} ({len(self.skipped)} could not be decoded)")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        import torch

        image = self.images[index]
        if self.train:
            image = augment(image, self.rng, self.strength)
        return {
            "pixel_values": torch.from_numpy(normalize(image, self.mean, self.std)),
            "labels": self.targets[index],
        }


def collate(items: list[dict]) -> dict:
    import torch

    return {
        "pixel_values": torch.stack([item["pixel_values"] for item in items]),
        "labels": torch.tensor([item["labels"] for item in items], dtype=torch.long),
    }
