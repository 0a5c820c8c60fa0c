"""Media for every app: frame sources (cameras, CSI, streams, files, synthetic clips), sinks (window,
video file, MJPEG over HTTP) and overlay drawing.

    from core.media import open_source, open_sink

    source = open_source(0)                      # /dev/video0 (OpenCV numbering, not jetson-inference's)
    source = open_source("csi://0")              # Jetson CSI camera through GStreamer
    source = open_source("synthetic://?frames=100")
    for frame in source:                         # Frame(image=BGR uint8, index, time, source, data, meta)
        ...

URI schemes are looked up among those plugins add through the ``register_sources`` hook first, then the
built-in ones (``core.media.sources.BUILTIN_SCHEMES``), so a plugin may add a scheme or replace one.
Only numpy is imported here; OpenCV is imported when a source or sink is opened.
"""

from core.media.capture import Capture
from core.media.sinks import Sink, has_display, open_sink
from core.media.sources import Frame, FrameSource, known_schemes, list_cameras, open_source

__all__ = [
    "Capture",
    "Frame",
    "FrameSource",
    "Sink",
    "has_display",
    "known_schemes",
    "list_cameras",
    "open_sink",
    "open_source",
]
