"""The Capture contract: a device, stream or file read frame by frame (``core.media.sources`` reads it in a
thread; a plugin's ``register_sources`` opener returns one)."""

from __future__ import annotations

import numpy as np


class Capture:
    """A device, stream or file read frame by frame. Subclass it to add a URI scheme.

    ``live``: a camera or stream (newest frame wins, reconnect when lost) rather than a file.
    ``open()`` raises :class:`AppsError` with a helpful message when the capture cannot start.
    ``read()`` returns the next BGR image, or None at the end of a file or when a live capture failed.
    """

    live = False
    description = "capture"
    fps: float | None = None
    meta: dict = {}

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass
