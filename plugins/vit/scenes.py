"""Camera scenes for the vit offline default: what a booth camera sees when a visitor holds up a card.

A scene is a square frame (the centre square the live view classifies): a background (a photograph or a
procedural scene), and for the digit and shape classes a card or sheet of paper with the glyph on it, placed
off-centre at a varied size, rotated and seen in perspective, sometimes partly covered by a finger. Then
the camera: defocus and motion blur, exposure, white balance, vignetting, sensor noise and JPEG, at twice
the output size, and the live view's own downscale. ``none`` frames hold no card, a blank card, or a card
with letters (nothing the model knows).

Glyphs: digits in system typefaces (PIL), the handwritten scikit-learn digits, OpenCV's stroke (Hershey)
digits with varied pen width; shapes filled and outlined in colours. Everything is numpy/OpenCV/PIL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NONE = "none"
LETTERS = "EFHKMNPRWXYaehkmnrwxy&#@"  # nothing like a digit or shape: cards with these are `none`
PAPER = ((250, 250, 250), (240, 245, 250), (225, 240, 250), (235, 235, 235), (200, 230, 250), (230, 250, 230),
         (250, 225, 240), (215, 245, 255), (205, 215, 220))  # fmt: skip  # BGR: white, cream, grey, pastels
DARK_INK = ((20, 20, 20), (60, 30, 10), (90, 30, 20), (20, 20, 120), (30, 80, 20), (40, 40, 40))
COLOUR_INK = ((30, 30, 200), (40, 150, 40), (200, 80, 30), (20, 120, 230), (140, 40, 140), (20, 20, 20),
              (150, 120, 0), (0, 170, 200))  # fmt: skip
SKIN = ((120, 150, 200), (90, 120, 170), (60, 80, 120), (150, 180, 225), (40, 55, 80))
PROCEDURAL = 0.4  # share of procedural backgrounds in the training scenes (the recipe's scenes.procedural)


@dataclass
class Sources:
    """What one generator draws from: typeface files, background images, handwritten digits, glyph kinds."""

    fonts: list[Path]
    backgrounds: list[Path]
    handwritten: list[tuple[np.ndarray, int]] = field(default_factory=list)  # (8x8 0..16 image, digit)
    stroke_digits: bool = True  # OpenCV's Hershey digits
    procedural: float = PROCEDURAL  # share of procedural backgrounds (all of them when there are no images)
    marks: float = 0.0  # share of backgrounds with many small marks on them (add_marks)


class GlyphCache:
    """Typefaces and background images, loaded once per process; typefaces without distinct digits dropped."""

    def __init__(self, sources: Sources, like: GlyphCache | None = None):
        self.sources = sources
        if like and (like.sources.fonts, like.sources.backgrounds) == (sources.fonts, sources.backgrounds):
            self._masks, self.fonts, self.backgrounds = (
                like._masks,
                like.fonts,
                like.backgrounds,
            )  # loaded once
            return
        self._masks: dict[tuple[str, str], np.ndarray | None] = {}
        self.fonts = [f for f in sources.fonts if self._has_digits(f)]
        self.backgrounds = [b for b in (_load_background(p) for p in sources.backgrounds) if b is not None]

    def text_mask(self, font: Path, text: str) -> np.ndarray | None:
        """The glyph's coverage (uint8, cropped to the ink) at about 64 px high, cached."""
        key = (str(font), text)
        if key not in self._masks:
            from PIL import Image, ImageDraw, ImageFont

            try:
                face = ImageFont.truetype(str(font), 64)
                image = Image.new("L", (160, 120), 0)
                ImageDraw.Draw(image).text((20, 10), text, fill=255, font=face)
                mask = np.asarray(image)
                ys, xs = np.nonzero(mask > 40)
                self._masks[key] = (
                    mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(ys) > 30 else None
                )
            except (OSError, ValueError):
                self._masks[key] = None
        return self._masks[key]

    def _has_digits(self, font: Path) -> bool:
        masks = [self.text_mask(font, ch) for ch in ("1", "7", "0", "8", "\ue000")]
        if any(m is None for m in masks[:4]):
            return False
        # A face without the digits draws the same missing-glyph box for all of them.
        shapes = {(m.shape, m.tobytes()) for m in masks if m is not None}
        return len(shapes) == len([m for m in masks if m is not None])


def _load_background(path: Path) -> np.ndarray | None:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or min(image.shape[:2]) < 64:
        return None
    scale = 320 / min(image.shape[:2])  # keep crops cheap: the scene is 2 x 48-64 px
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


# ---- glyphs (coverage masks, float 0..1) ------------------------------------------------------------
def _square_mask(mask: np.ndarray, side: int, fill: float) -> np.ndarray:
    """Fit ``mask`` into a ``side`` x ``side`` square, its longer side ``fill`` of it, centred."""
    import cv2

    h, w = mask.shape
    scale = side * fill / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((side, side), np.float32)
    top, left = (side - nh) // 2, (side - nw) // 2
    out[top : top + nh, left : left + nw] = small
    return np.clip(out / max(float(out.max()), 1e-6), 0, 1)


def digit_mask(digit: int, side: int, cache: GlyphCache, rng: np.random.Generator) -> np.ndarray:
    import cv2

    from plugins.vit.data import render_digit

    kinds = [k for k, ok in (("font", cache.fonts), ("hand", cache.sources.handwritten),
                             ("stroke", cache.sources.stroke_digits)) if ok]  # fmt: skip
    kind = kinds[rng.integers(len(kinds))] if rng.random() < 0.5 or "font" not in kinds else "font"
    if kind == "font":
        mask = cache.text_mask(cache.fonts[rng.integers(len(cache.fonts))], str(digit))
        out = _square_mask(mask, side, 1.0)
        if rng.random() < 0.25:  # heavier or lighter print
            kernel = np.ones((2, 2), np.uint8)
            out = (cv2.dilate if rng.random() < 0.6 else cv2.erode)(out, kernel)
        return out
    if kind == "hand":
        choices = [image for image, target in cache.sources.handwritten if target == digit]
        image = choices[rng.integers(len(choices))].astype(np.float32) / 16.0
        big = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
        return np.clip((big - 0.15) * 1.4, 0, 1)
    gray = render_digit(digit, rng, size=64)  # Hershey strokes, varied pen width, dark ink on paper
    return _square_mask(1 - gray.astype(np.float32) / 255.0, side, 1.0)


def shape_mask(shape: str, side: int, rng: np.random.Generator) -> np.ndarray:
    from plugins.vit.data import render_shape

    gray = render_shape(shape, rng, size=64)  # filled or outlined, rotated
    return _square_mask(1 - gray.astype(np.float32) / 255.0, side, 1.0)


def letters_mask(side: int, cache: GlyphCache, rng: np.random.Generator) -> np.ndarray | None:
    if not cache.fonts:
        return None
    font = cache.fonts[rng.integers(len(cache.fonts))]
    text = "".join(rng.choice(list(LETTERS), size=int(rng.integers(1, 4))))
    missing = cache.text_mask(font, "\ue000")  # a face without Latin letters draws boxes: squares, not none
    if missing is not None and any(_same(cache.text_mask(font, ch), missing) for ch in set(text)):
        return None
    mask = cache.text_mask(font, text)
    return None if mask is None else _square_mask(mask, side, 1.0)


def _same(a: np.ndarray | None, b: np.ndarray) -> bool:
    return a is None or (a.shape == b.shape and bool((a == b).all()))


# ---- backgrounds ------------------------------------------------------------------------------------
def background(side: int, cache: GlyphCache, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if cache.backgrounds and rng.random() >= cache.sources.procedural:
        image = cache.backgrounds[rng.integers(len(cache.backgrounds))]
        h, w = image.shape[:2]
        crop = int(min(h, w) * rng.uniform(0.25, 1.0))
        top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        out = cv2.resize(
            image[top : top + crop, left : left + crop], (side, side), interpolation=cv2.INTER_AREA
        )
        out = out if rng.random() < 0.5 else out[:, ::-1].copy()
    else:
        out = procedural_background(side, rng)
    if cache.sources.marks and rng.random() < cache.sources.marks:  # no draw at 0: the same scenes as before
        out = add_marks(out, cache, rng)
    return out


def add_marks(scene: np.ndarray, cache: GlyphCache, rng: np.random.Generator) -> np.ndarray:
    """Many small things at once, none of them a card's subject: a grid or rows of one repeated mark (dots,
    rings, small shapes, letters: printed matter, a pegboard, a patterned cloth), or a few round and square
    objects (buttons, coins, tiles). Drawn behind every class's card alike, so they are no cue for a class;
    with no card in front they are ``none``. The marks are smaller than the smallest glyph on a card."""
    import cv2

    side = scene.shape[0]
    out = scene.astype(np.float32)
    colour = rng.uniform(0, 90, 3) if rng.random() < 0.7 else rng.uniform(160, 255, 3)
    if rng.random() < 0.65:  # one mark repeated on a grid, slightly rotated, over part of the frame
        size = int(side * rng.uniform(0.06, 0.16))  # 3-8 px in the 48 px frame; a card's glyph is 8-38
        kind = rng.integers(4)
        if kind < 2:  # dots, rings
            mask = np.zeros((size, size), np.float32)
            cv2.circle(
                mask,
                (size // 2, size // 2),
                max(1, size // 2 - 1),
                1.0,
                -1 if kind == 0 else max(1, size // 6),
            )
        elif kind == 2:  # small shapes
            from plugins.vit.data import SHAPES

            mask = cv2.resize(
                shape_mask(SHAPES[rng.integers(len(SHAPES))], 64, rng),
                (size, size),
                interpolation=cv2.INTER_AREA,
            )
        else:  # text: letters, one size
            font_mask = letters_mask(64, cache, rng)
            if font_mask is None:
                return scene
            mask = cv2.resize(font_mask, (size * 2, size), interpolation=cv2.INTER_AREA)
        gap = rng.uniform(1.3, 2.5)
        step_x, step_y = mask.shape[1] * gap, mask.shape[0] * gap
        area = rng.uniform(0.4, 1.0, 2) * side
        x0, y0 = rng.uniform(0, side - area[0]), rng.uniform(0, side - area[1])
        layer = np.zeros((side, side), np.float32)
        for y in np.arange(y0, y0 + area[1] - mask.shape[0], step_y):
            for x in np.arange(x0, x0 + area[0] - mask.shape[1], step_x):
                if rng.random() < 0.9:
                    top, left = int(y), int(x)
                    layer[top : top + mask.shape[0], left : left + mask.shape[1]] = np.maximum(
                        layer[top : top + mask.shape[0], left : left + mask.shape[1]], mask
                    )
        rotate = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.normal(0, 15)), 1.0)
        layer = cv2.warpAffine(layer, rotate, (side, side), flags=cv2.INTER_LINEAR)[:, :, None]
        return np.clip(out * (1 - layer) + colour * layer, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):  # a few objects, shaded
        radius = int(side * rng.uniform(0.05, 0.15))
        centre = tuple(int(v) for v in rng.integers(0, side, 2))
        tone = tuple(float(c) for c in rng.uniform(30, 230, 3))
        if rng.random() < 0.6:
            cv2.circle(out, centre, radius, tone, -1, cv2.LINE_AA)
            cv2.circle(
                out, centre, max(1, radius * 2 // 3), tuple(c * 0.85 for c in tone), max(1, radius // 5)
            )
        else:
            corners = (centre[0] - radius, centre[1] - radius), (centre[0] + radius, centre[1] + radius)
            cv2.rectangle(out, *corners, tone, -1)
    return np.clip(out, 0, 255).astype(np.uint8)


def procedural_background(side: int, rng: np.random.Generator) -> np.ndarray:
    """A room-like scene: smooth light and colour, low-frequency texture, and clutter of many objects."""
    import cv2

    low = rng.uniform(20, 230, size=(rng.integers(2, 5), rng.integers(2, 5), 3)).astype(np.float32)
    out = cv2.resize(low, (side, side), interpolation=cv2.INTER_CUBIC)
    texture = cv2.resize(rng.normal(0, 1, (side // 4, side // 4)).astype(np.float32), (side, side))
    out += texture[:, :, None] * rng.uniform(0, 25)
    for _ in range(rng.integers(0, 12)):  # furniture, posters, people: overlapping blobs and bars
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            p1 = rng.integers(-side // 2, side, 2)
            p2 = p1 + rng.integers(side // 8, side, 2)
            cv2.rectangle(out, tuple(int(v) for v in p1), tuple(int(v) for v in p2), colour, -1)
        else:
            centre = tuple(int(v) for v in rng.integers(0, side, 2))
            axes = tuple(int(v) for v in rng.integers(side // 10, side // 2, 2))
            cv2.ellipse(out, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    if rng.random() < 0.3:  # stripes: blinds, shelves, a striped shirt
        period = rng.uniform(4, side / 3)
        ramp = (np.sin(np.arange(side) * 2 * math.pi / period) > 0).astype(np.float32)
        stripe = ramp[None, :] if rng.random() < 0.5 else ramp[:, None]
        out += stripe[:, :, None] * rng.uniform(-60, 60)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 2.5))
    return np.clip(out, 0, 255).astype(np.uint8)


# ---- card and camera --------------------------------------------------------------------------------
def card_image(glyph: np.ndarray | None, width: int, height: int, fill: float, ink, paper, rng) -> np.ndarray:
    """A card of ``width`` x ``height`` with the glyph (coverage mask) at ``fill`` of its shorter side."""
    card = np.empty((height, width, 3), np.float32)
    card[:] = paper
    shade = np.linspace(
        1 - rng.uniform(0, 0.25), 1, width if rng.random() < 0.5 else height, dtype=np.float32
    )
    card *= shade[None, :, None] if len(shade) == width else shade[:, None, None]
    if glyph is not None:
        side = max(4, int(min(width, height) * fill))
        import cv2

        mask = cv2.resize(glyph, (side, side), interpolation=cv2.INTER_AREA)[:, :, None]
        top = int((height - side) / 2 + rng.uniform(-0.06, 0.06) * height)
        left = int((width - side) / 2 + rng.uniform(-0.06, 0.06) * width)
        top, left = min(max(top, 0), height - side), min(max(left, 0), width - side)
        region = card[top : top + side, left : left + side]
        region[:] = region * (1 - mask) + np.asarray(ink, np.float32) * mask
    return card


def place_card(scene, card, shift: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Warp the card into the scene: up to ``shift`` px off-centre, rotated, in perspective. Returns the
    scene and the card's corners."""
    import cv2

    side = scene.shape[0]
    h, w = card.shape[:2]
    centre = side / 2 + rng.uniform(-shift, shift, 2)
    angle = math.radians(float(np.clip(rng.normal(0, 12), -35, 35)))
    corners = np.float32([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    corners += rng.uniform(-0.09, 0.09, corners.shape).astype(np.float32) * max(w, h)  # perspective
    rotation = np.float32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    target = corners @ rotation.T + centre.astype(np.float32)
    source = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(card, matrix, (side, side), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, (side, side), flags=cv2.INTER_LINEAR)
    out = scene.astype(np.float32) * (1 - alpha[:, :, None]) + warped * alpha[:, :, None]
    return out, target


def add_finger(scene: np.ndarray, corners: np.ndarray, rng: np.random.Generator) -> None:
    """A thumb or finger over the card's edge, reaching into its margin (not over the glyph's middle)."""
    import cv2

    edge = int(rng.integers(4))
    a, b = corners[edge], corners[(edge + 1) % 4]
    base = a + (b - a) * rng.uniform(0.2, 0.8)
    centre = corners.mean(0)
    span = float(np.linalg.norm(b - a))
    direction = (centre - base) / max(float(np.linalg.norm(centre - base)), 1e-6)
    tip = base + direction * span * rng.uniform(0.05, 0.22)
    middle = (base + tip) / 2 - direction * span * 0.15
    length = float(np.linalg.norm(tip - middle)) + 1
    angle = math.degrees(math.atan2(direction[1], direction[0]))
    colour = tuple(float(c) for c in SKIN[rng.integers(len(SKIN))])
    axes = (int(length), max(2, int(span * rng.uniform(0.07, 0.12))))
    cv2.ellipse(scene, tuple(int(v) for v in middle), axes, angle, 0, 360, colour, -1, cv2.LINE_AA)


def camera(scene: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The camera and the live view: blur, exposure, white balance, vignetting, noise, JPEG, downscale."""
    import cv2

    side = scene.shape[0]
    out = scene.astype(np.float32)
    if rng.random() < 0.45:  # defocus
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.6))
    if rng.random() < 0.2:  # motion blur: a short line kernel at any angle
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1
        rotate = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1)
        kernel = cv2.warpAffine(kernel, rotate, (length, length))
        out = cv2.filter2D(out, -1, kernel / max(float(kernel.sum()), 1e-6))
    out = out * rng.uniform(0.8, 1.2, 3).astype(np.float32)  # white balance
    out = 255 * (np.clip(out * rng.uniform(0.55, 1.45), 0, 255) / 255) ** rng.uniform(0.7, 1.4)  # exposure
    if rng.random() < 0.5:  # vignetting
        ramp = np.linspace(-1, 1, side, dtype=np.float32)
        radius = ramp[None, :] ** 2 + ramp[:, None] ** 2
        out *= (1 - rng.uniform(0.1, 0.5) * radius / 2)[:, :, None]
    out += rng.normal(0, rng.uniform(1, 9), out.shape).astype(np.float32)  # sensor noise
    frame = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 96))])
        frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


SCAN_SHARE = 0.08  # of the digit scenes, when there are handwritten digits: a plain scan, no scene


def handwritten_scan(digit: int, cache: GlyphCache, rng: np.random.Generator, size: int) -> np.ndarray:
    """A handwritten digit as a plain scan (dark ink filling white paper, as the handwritten test split and
    the earlier digits-shapes default show them), with light exposure, contrast and noise."""
    import cv2

    choices = [image for image, target in cache.sources.handwritten if target == digit]
    image = choices[rng.integers(len(choices))]
    gray = cv2.resize(
        (255 - image * (255.0 / 16.0)).astype(np.uint8), (32, 32), interpolation=cv2.INTER_LINEAR
    )
    out = cv2.resize(gray, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    out = (out - 128) * rng.uniform(0.7, 1.1) + 128 + rng.uniform(-30, 20)
    out += rng.normal(0, rng.uniform(0, 6), out.shape)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def render_scene(label: str, cache: GlyphCache, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """One camera frame (BGR uint8, ``size`` x ``size``) showing ``label``: a digit, a shape or ``none``."""
    from plugins.vit.data import DIGITS, SHAPES

    if label in DIGITS and cache.sources.handwritten and rng.random() < SCAN_SHARE:
        return handwritten_scan(int(label), cache, rng, size)
    side = 2 * size
    scene = background(side, cache, rng)
    glyph = None
    if label in DIGITS:
        glyph = digit_mask(int(label), 64, cache, rng)
    elif label in SHAPES:
        glyph = shape_mask(label, 64, rng)
    elif rng.random() < 0.55:  # none: the bare scene
        return camera(scene, size, rng)
    elif rng.random() < 0.5:  # none: a card with letters; else a blank card
        glyph = letters_mask(64, cache, rng)
    card_side = side * rng.uniform(0.45, 1.25)  # > 1: held close, the card fills the frame
    aspect = rng.uniform(0.75, 1.33)
    width, height = int(card_side * min(1, aspect)), int(card_side * min(1, 1 / aspect))
    paper, ink = PAPER[rng.integers(len(PAPER))], DARK_INK[rng.integers(len(DARK_INK))]
    if label in SHAPES or rng.random() < 0.15:
        ink = COLOUR_INK[rng.integers(len(COLOUR_INK))]
    if rng.random() < 0.08:  # light ink on a dark card
        paper, ink = tuple(255 - c for c in paper), tuple(255 - c for c in ink)
    # The glyph stays in the frame: at most 80% of it, and the card shifted only as far as that allows.
    fill = min(rng.uniform(0.5, 0.85), 0.8 * side / min(width, height))
    glyph_side = fill * min(width, height)
    card = card_image(glyph, width, height, fill, ink, paper, rng)
    scene, corners = place_card(scene, card, min(0.16 * side, max(0.0, (0.92 * side - glyph_side) / 2)), rng)
    if rng.random() < 0.3:
        add_finger(scene, corners, rng)
    return camera(scene, size, rng)


# ---- the dataset ------------------------------------------------------------------------------------
_CACHES: dict[str, GlyphCache] = {}


def glyph_cache(kind: str, sources: Sources) -> GlyphCache:
    """Load ``sources`` for rendering (before workers fork, so they share it) and keep it as ``kind``; the
    typefaces, glyphs and backgrounds of an earlier cache with the same ones are shared, not loaded again."""
    _CACHES[kind] = GlyphCache(sources, like=next(iter(_CACHES.values()), None))
    return _CACHES[kind]


def _render_chunk(job: tuple) -> list[tuple[str, np.ndarray]]:
    """Worker: render ``count`` scenes of one class with the sources of ``kind`` (one seed per chunk)."""
    kind, label, start, count, seed, size = job
    rng = np.random.default_rng(seed)
    return [(f"{label}_{start + n:05d}", render_scene(label, _CACHES[kind], rng, size)) for n in range(count)]


def render_split(folder: Path, kind: str, sources: Sources, counts: dict, seed: int, size: int, workers: int):
    """Render ``counts[label]`` scenes per class into ``folder/label/`` (PNG) with ``workers`` processes."""
    import cv2

    glyph_cache(kind, sources)
    jobs = []
    for index, (label, count) in enumerate(counts.items()):
        for start in range(0, count, 250):
            jobs.append((kind, label, start, min(250, count - start), [seed, index, start], size))
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            results = pool.map(_render_chunk, jobs)
            _write(folder, results, cv2)
    else:
        _write(folder, map(_render_chunk, jobs), cv2)


def _write(folder: Path, results, cv2) -> None:
    for chunk in results:
        for name, image in chunk:
            label = name.rsplit("_", 1)[0]
            (folder / label).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / label / f"{name}.png"), image)
