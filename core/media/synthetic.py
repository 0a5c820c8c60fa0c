"""``synthetic://``: a generated test clip, so every app runs without a camera or a file.

Digits and simple shapes drawn large on a sheet of "paper" that drifts a little, with noise and uneven
light, changing every ``hold`` frames. ``Frame.meta["label"]`` tells what is shown (tests and demos use it).
Options: ``width`` (640), ``height`` (480), ``frames`` (0 = endless), ``fps`` (0 = as fast as read;
otherwise paced like a camera), ``hold`` (45 frames per item), ``seed``, ``items`` (comma list).
"""

from __future__ import annotations

import math
import time

import numpy as np

from core.media.capture import Capture

ITEMS = [str(d) for d in range(10)] + ["circle", "square", "triangle", "star"]


class SyntheticCapture(Capture):
    OPTIONS = ("width", "height", "frames", "fps", "hold", "seed", "items", "live")

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        frames: int = 0,
        fps: float = 0,
        hold: int = 45,
        seed: int = 0,
        items: str | list | None = None,
        live: bool = False,
    ):
        self.width, self.height = int(width), int(height)
        self.frames, self.hold, self.seed = int(frames), max(1, int(hold)), int(seed)
        self.pace = float(fps)
        self.fps = self.pace or 30.0
        self.live = bool(live)
        if isinstance(items, str):
            items = [item.strip() for item in items.split(",") if item.strip()]
        self.items = list(items or ITEMS)
        self.description = f"synthetic://{self.width}x{self.height}"
        self.count = 0
        self._next_time = 0.0
        self._background = None

    def open(self) -> None:
        import cv2

        self.count = 0
        self._next_time = time.monotonic()
        rng = np.random.default_rng(self.seed)
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float32)
        light = 235 - 25 * ((xs / self.width - 0.3) ** 2 + (ys / self.height - 0.4) ** 2)
        paper = light[:, :, None] * np.array([0.97, 1.0, 1.0], np.float32)  # a warm white sheet
        paper += rng.normal(0, 3, paper.shape)
        self._background = np.clip(paper, 0, 255).astype(np.uint8)
        self._noise = [
            cv2.merge([rng.integers(-6, 7, (self.height, self.width), dtype=np.int16)] * 3) for _ in range(4)
        ]

    def read(self) -> np.ndarray | None:
        import cv2

        if self._background is None:
            self.open()
        if self.frames and self.count >= self.frames:
            return None
        if self.pace:
            self._next_time += 1.0 / self.pace
            delay = self._next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        n = self.count
        self.count += 1
        item_number = n // self.hold
        item = self.items[item_number % len(self.items)]
        rng = np.random.default_rng(self.seed * 100003 + item_number)
        image = self._background.copy()
        side = min(self.width, self.height)
        t = n / 30.0
        centre = (
            int(self.width / 2 + side * 0.03 * math.sin(t * 1.3)),
            int(self.height / 2 + side * 0.03 * math.cos(t)),
        )
        ink = tuple(int(v) for v in rng.integers(10, 70, size=3))
        size = side * rng.uniform(0.72, 0.85)
        if item.isdigit():
            _draw_text(image, item, centre, size, ink, rng)
        else:
            _draw_shape(image, item, centre, size, ink, rng, angle=t * 0.2)
        # sensor noise: a few precomputed fields in turn (generating one per frame costs more than the rest)
        cv2.add(image, self._noise[n % len(self._noise)], dst=image, dtype=cv2.CV_8U)
        cv2.putText(
            image,
            f"synthetic {n}",
            (8, self.height - 10),
            cv2.FONT_HERSHEY_SIMPLEX,
            max(0.35, side / 1200),
            (90, 90, 90),
            1,
            cv2.LINE_AA,
        )
        self.meta = {"label": item, "synthetic": True}
        return image


def _draw_text(image, text, centre, size, ink, rng) -> None:
    """Draw ``text`` so that its ink is ``size`` pixels tall, centred (Hershey metrics include margins)."""
    import cv2

    fonts = (
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_TRIPLEX,
    )
    font = fonts[int(rng.integers(len(fonts)))]
    canvas = np.zeros((320, 320), np.uint8)
    cv2.putText(canvas, text, (40, 260), font, 8.0, 255, int(rng.integers(12, 22)), cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    glyph = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    factor = size / glyph.shape[0]
    glyph = cv2.resize(glyph, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    h, w = glyph.shape
    top, left = centre[1] - h // 2, centre[0] - w // 2
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(image.shape[0], top + h), min(image.shape[1], left + w)
    alpha = glyph[y0 - top : y1 - top, x0 - left : x1 - left, None].astype(np.float32) / 255.0
    region = image[y0:y1, x0:x1]
    region[:] = (region * (1 - alpha) + np.array(ink, np.float32) * alpha).astype(np.uint8)


def _draw_shape(image, shape, centre, size, ink, rng, angle=0.0) -> None:
    import cv2

    radius = size / 2
    thickness = -1 if rng.random() < 0.4 else max(2, int(size * 0.07))
    if shape == "circle":
        cv2.circle(image, centre, int(radius), ink, thickness, cv2.LINE_AA)
        return
    corners = {"square": 4, "triangle": 3, "star": 10}.get(shape, 6)
    angles = angle + np.arange(corners) * 2 * math.pi / corners - math.pi / 2
    radii = np.full(corners, radius)
    if shape == "star":
        radii[1::2] *= 0.42
    points = np.stack([centre[0] + np.cos(angles) * radii, centre[1] + np.sin(angles) * radii], 1)
    points = points.astype(np.int32).reshape(-1, 1, 2)
    if thickness < 0:
        cv2.fillPoly(image, [points], ink, cv2.LINE_AA)
    else:
        cv2.polylines(image, [points], True, ink, thickness, cv2.LINE_AA)
