"""Drawing results into frames with OpenCV: top-k labels, FPS figures, status banners, heat maps."""

from __future__ import annotations

import time
from collections import deque

import numpy as np


class FpsMeter:
    """Frames per second over a sliding window of the last ``seconds``."""

    def __init__(self, seconds: float = 2.0):
        self.seconds = seconds
        self.times: deque = deque()

    def tick(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        self.times.append(now)
        while len(self.times) > 2 and now - self.times[0] > self.seconds:
            self.times.popleft()
        return self.value

    @property
    def value(self) -> float:
        if len(self.times) < 2:
            return 0.0
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0


def _scale(image: np.ndarray) -> float:
    return max(0.4, image.shape[0] / 720)


def _panel(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, alpha: float = 0.55) -> None:
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(image.shape[1], x1), min(image.shape[0], y1)
    if x1 > x0 and y1 > y0:
        region = image[y0:y1, x0:x1]
        region[:] = (region * (1 - alpha)).astype(np.uint8)


def draw_top_k(image: np.ndarray, top: list[dict]) -> None:
    """Labels with confidence bars in the top-left corner (in place). ``top``: [{"label", "score"}, ...]."""
    import cv2

    s = _scale(image)
    line = int(34 * s)
    width = int(min(image.shape[1] - 10, 430 * s))
    _panel(image, 0, 0, width + 16, line * len(top) + int(14 * s))
    for i, item in enumerate(top):
        y = int(10 * s) + line * i
        score = float(item["score"])
        bar = int((width - 8) * score)
        color = (60, 200, 60) if i == 0 else (200, 160, 60)
        cv2.rectangle(image, (8, y + 4), (8 + bar, y + line - 4), color, -1)
        text = f"{item['label'][:32]}  {score * 100:.1f}%"
        cv2.putText(
            image,
            text,
            (14, y + line - int(10 * s)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7 * s,
            (255, 255, 255),
            max(1, int(2 * s)),
            cv2.LINE_AA,
        )


def draw_stats(image: np.ndarray, fps: float, model_fps: float | None = None, extra: str = "") -> None:
    """End-to-end and model-only FPS in the bottom-left corner (in place)."""
    import cv2

    s = _scale(image)
    text = f"{fps:5.1f} FPS"
    if model_fps:
        text += f" | model {model_fps:5.1f} FPS"
    if extra:
        text += f" | {extra}"
    h = image.shape[0]
    (w, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * s, max(1, int(2 * s)))
    _panel(image, 0, h - th - int(20 * s), w + int(20 * s), h)
    cv2.putText(
        image,
        text,
        (int(10 * s), h - int(10 * s)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6 * s,
        (255, 255, 255),
        max(1, int(2 * s)),
        cv2.LINE_AA,
    )


def draw_banner(image: np.ndarray, text: str, color=(0, 0, 200)) -> None:
    """A coloured banner across the middle (camera lost, reconnecting ...), in place."""
    import cv2

    s = _scale(image)
    h, w = image.shape[:2]
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.9 * s, max(1, int(2 * s)))
    y0 = h // 2 - th
    cv2.rectangle(image, (0, y0 - int(14 * s)), (w, y0 + th + int(14 * s)), color, -1)
    cv2.putText(
        image,
        text,
        (max(4, (w - tw) // 2), y0 + th),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.9 * s,
        (255, 255, 255),
        max(1, int(2 * s)),
        cv2.LINE_AA,
    )


def center_square_box(image: np.ndarray, crop_pct: float = 1.0) -> tuple[int, int, int]:
    """(left, top, side) of the centre square a classifier sees."""
    h, w = image.shape[:2]
    side = max(1, int(round(min(h, w) * crop_pct)))
    return (w - side) // 2, (h - side) // 2, side


def draw_heatmap(image: np.ndarray, heat: np.ndarray, crop_pct: float = 1.0, alpha: float = 0.5) -> None:
    """Blend a 0..1 map (e.g. attention rollout, g x g) over the centre square the model saw, in place."""
    import cv2

    left, top, side = center_square_box(image, crop_pct)
    heat = np.clip(np.nan_to_num(heat.astype(np.float32)), 0, 1)
    big = cv2.resize(heat, (side, side), interpolation=cv2.INTER_CUBIC)
    colored = cv2.applyColorMap(np.clip(big * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    region = image[top : top + side, left : left + side]
    weight = (alpha * np.clip(big, 0.15, 1.0))[:, :, None]
    region[:] = (region * (1 - weight) + colored * weight).astype(np.uint8)
    cv2.rectangle(image, (left, top), (left + side - 1, top + side - 1), (255, 255, 255), 1)


def draw_crop_box(image: np.ndarray, crop_pct: float = 1.0) -> None:
    """A thin frame around what the model sees (helps visitors aim)."""
    import cv2

    left, top, side = center_square_box(image, crop_pct)
    cv2.rectangle(image, (left, top), (left + side - 1, top + side - 1), (200, 200, 200), 1)
