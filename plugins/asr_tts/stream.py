"""Microphone streaming: sounddevice blocks -> energy VAD over a tracked noise floor -> partial results
while speaking, a final transcript when the speaker pauses. ``segment_stream`` is the testable core (any
iterable of blocks); ``file_blocks`` feeds a file through the same code (``apps run asr --stream``)."""

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
ONSET_BLOCKS = 2  # this many loud blocks in a row open an utterance


class NoiseFloor:
    """Voice activity over a tracked noise floor: a block is speech when it is ``margin_db`` louder than
    the background, whatever the background is (a quiet room, a fan, a street).

    The floor is a low percentile of the levels (dBFS of 100 ms blocks) of the last 3 s of background, so
    it follows a changing background but a single quiet dip does not drop it; it stays put while someone
    speaks. A sound that opens an utterance but then stays level for ``STEADY_S`` (a fan switched on, a new
    hum: speech rises and falls with its syllables) becomes the new background, and the utterance is dropped.
    """

    LOWEST_DB = -75.0  # digital silence counts as this loud, so a margin is always above something
    HISTORY = 30  # blocks of background remembered
    PERCENTILE = 20
    STEADY_S = 1.5
    STEADY_STD_DB = 2.0

    def __init__(self, margin_db: float = 10.0):
        if margin_db <= 0:
            raise AppsError(
                f"--vad-threshold must be a margin above the noise floor in dB (> 0), not {margin_db}",
                hint="try 10; it used to be an absolute level in dBFS such as -45",
            )
        self.margin_db = margin_db
        self.history: list[float] = []

    @property
    def floor(self) -> float:
        return float(np.percentile(self.history, self.PERCENTILE)) if self.history else self.LOWEST_DB

    def loud(self, level_db: float, speaking: bool) -> bool:
        """Whether a block of ``level_db`` is speech; while ``speaking``, the bar is halfway (hysteresis)."""
        level_db = max(level_db, self.LOWEST_DB)
        if not self.history:  # the first block is taken as background
            self.history.append(level_db)
        loud = level_db > self.floor + (self.margin_db / 2 if speaking else self.margin_db)
        if not loud and not speaking:
            self.history = (self.history + [level_db])[-self.HISTORY :]
        return loud

    def steady(self, levels_db: list[float], block_s: float) -> bool:
        """Whether the recent blocks of an utterance are one level sound: then they become the background."""
        count = int(round(self.STEADY_S / block_s))
        recent = list(np.maximum(np.asarray(levels_db[-count:]), self.LOWEST_DB))
        if len(levels_db) < count or float(np.std(recent)) >= self.STEADY_STD_DB:
            return False
        self.history = recent
        return True


def segment_stream(blocks: Iterable[np.ndarray], margin_db: float = 10.0) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``("partial", audio so far)`` while speech goes on and ``("final", utterance)`` after a pause.
    Speech is ``margin_db`` above the tracked noise floor (``NoiseFloor``); steady noise alone yields nothing."""
    from plugins.asr_tts.audio import rms_dbfs

    vad = NoiseFloor(margin_db)
    speech: list[np.ndarray] = []
    levels: list[float] = []
    quiet = 0.0
    since_partial = 0.0
    pre_roll: list[np.ndarray] = []
    onset = 0
    for block in blocks:
        level = rms_dbfs(block)
        loud = vad.loud(level, speaking=bool(speech))
        if not speech:
            pre_roll = (pre_roll + [block])[-3:]  # keep 200 ms before the onset: consonants start quietly
            onset = onset + 1 if loud else 0
            if onset >= ONSET_BLOCKS:  # a click or a knock is shorter than any word
                speech, levels, quiet, since_partial = list(pre_roll), [level] * onset, 0.0, 0.0
            continue
        speech.append(block)
        levels.append(level)
        if vad.steady(levels, len(block) / SAMPLE_RATE):  # not speech: a new background
            speech, pre_roll, onset = [], [], 0
            continue
        quiet = 0.0 if loud else quiet + len(block) / SAMPLE_RATE
        since_partial += len(block) / SAMPLE_RATE
        length = sum(len(b) for b in speech) / SAMPLE_RATE
        if quiet >= END_SILENCE_S or length >= MAX_UTTERANCE_S:
            yield "final", np.concatenate(speech)
            speech, pre_roll, onset = [], [], 0
        elif since_partial >= PARTIAL_EVERY_S:
            since_partial = 0.0
            yield "partial", np.concatenate(speech)
    if speech:
        yield "final", np.concatenate(speech)


def file_blocks(path, block_s: float = BLOCK_S) -> Iterator[np.ndarray]:
    """An audio file as the microphone would deliver it: 100 ms blocks of 16 kHz mono."""
    from plugins.asr_tts.audio import load_audio

    audio = load_audio(path)
    size = int(block_s * SAMPLE_RATE)
    for start in range(0, len(audio), size):
        yield audio[start : start + size]


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
    margin_db: float = 10.0,
    seconds: float | None = None,
    device=None,
    partial: Callable[[str], None] | None = None,
    blocks: Iterable[np.ndarray] | None = None,
) -> Iterator[dict]:
    """Final results (with ``latency_ms`` from end of speech to transcript) for each utterance heard."""
    source = blocks if blocks is not None else microphone_blocks(device, seconds)
    for kind, audio in segment_stream(source, margin_db):
        if kind == "partial":
            if partial is not None:
                partial(transcriber.transcribe([audio])[0]["text"])
            continue
        began = time.perf_counter()
        result = transcriber.transcribe([audio])[0]
        result["latency_ms"] = round(1000 * (time.perf_counter() - began + END_SILENCE_S), 1)
        yield result
