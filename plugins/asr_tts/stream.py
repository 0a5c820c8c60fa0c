"""Microphone streaming: sounddevice blocks -> energy VAD -> partial results while speaking, a final
transcript when the speaker pauses. ``segment_stream`` is the testable core (any iterable of blocks)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from core import AppsError
from plugins.asr_tts.audio import SAMPLE_RATE

BLOCK_S = 0.1
END_SILENCE_S = 0.3  # this much quiet closes an utterance
PARTIAL_EVERY_S = 0.8
MAX_UTTERANCE_S = 20.0


def segment_stream(
    blocks: Iterable[np.ndarray], threshold_db: float = -45.0
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``("partial", audio so far)`` while speech goes on and ``("final", utterance)`` after a pause."""
    from plugins.asr_tts.audio import rms_dbfs

    speech: list[np.ndarray] = []
    quiet = 0.0
    since_partial = 0.0
    pre_roll: list[np.ndarray] = []
    for block in blocks:
        loud = rms_dbfs(block) > threshold_db
        if not speech:
            pre_roll = (pre_roll + [block])[-2:]  # keep 200 ms before the onset: consonants start quietly
            if loud:
                speech, quiet, since_partial = list(pre_roll), 0.0, 0.0
            continue
        speech.append(block)
        quiet = 0.0 if loud else quiet + len(block) / SAMPLE_RATE
        since_partial += len(block) / SAMPLE_RATE
        length = sum(len(b) for b in speech) / SAMPLE_RATE
        if quiet >= END_SILENCE_S or length >= MAX_UTTERANCE_S:
            yield "final", np.concatenate(speech)
            speech, pre_roll = [], []
        elif since_partial >= PARTIAL_EVERY_S:
            since_partial = 0.0
            yield "partial", np.concatenate(speech)
    if speech:
        yield "final", np.concatenate(speech)


def microphone_blocks(device=None, seconds: float | None = None) -> Iterator[np.ndarray]:
    """100 ms mono float32 blocks at 16 kHz from the default (or given) input device."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise AppsError(
            f"microphone input needs the sounddevice package and PortAudio: {exc}",
            hint="pip install sounddevice; apt-get install libportaudio2",
        ) from None
    try:
        sd.check_input_settings(device=device, channels=1, samplerate=SAMPLE_RATE, dtype="float32")
    except Exception as exc:
        raise AppsError(
            f"no usable microphone: {exc}",
            hint="plug one in, list devices with: python -m sounddevice; or transcribe files",
        ) from None
    blocks: queue.Queue = queue.Queue()

    def callback(data, frames, when, status):
        blocks.put(data[:, 0].copy())

    began = time.monotonic()
    with sd.InputStream(
        device=device,
        channels=1,
        samplerate=SAMPLE_RATE,
        dtype="float32",
        blocksize=int(BLOCK_S * SAMPLE_RATE),
        callback=callback,
    ):
        while seconds is None or time.monotonic() - began < seconds:
            try:
                yield blocks.get(timeout=1.0)
            except queue.Empty:
                continue


def listen(
    transcriber,
    threshold_db: float = -45.0,
    seconds: float | None = None,
    device=None,
    partial: Callable[[str], None] | None = None,
    blocks: Iterable[np.ndarray] | None = None,
) -> Iterator[dict]:
    """Final results (with ``latency_ms`` from end of speech to transcript) for each utterance heard."""
    source = blocks if blocks is not None else microphone_blocks(device, seconds)
    for kind, audio in segment_stream(source, threshold_db):
        if kind == "partial":
            if partial is not None:
                partial(transcriber.transcribe([audio])[0]["text"])
            continue
        began = time.perf_counter()
        result = transcriber.transcribe([audio])[0]
        result["latency_ms"] = round(1000 * (time.perf_counter() - began + END_SILENCE_S), 1)
        yield result
