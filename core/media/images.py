"""Reading images robustly with OpenCV: any depth or channel count in, BGR uint8 out."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any decoded image -> 8-bit, 3-channel BGR (gray expanded, alpha composed on white, 16-bit scaled)."""
    import cv2

    if image.dtype == np.uint16:
        image = (image / 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    return image


def read_image(path: str | Path) -> np.ndarray | None:
    """BGR uint8 image, or None when the file cannot be decoded (corrupt, truncated, not an image)."""
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return None if image is None else to_bgr(image)
