"""Text-to-speech engines: espeak-ng (default, offline, Mandarin too), VITS (MMS-TTS via transformers, online),
and Tacotron 2 (torchaudio) trained by the ``tacotron2-commands`` recipe, voiced with Griffin-Lim.

Every engine's ``synthesize(text)`` returns ``(float32 mono audio, sample_rate)``.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np

from core import AppsError

ENGINES = ("espeak", "vits", "tacotron2")
DEFAULT_VITS = "facebook/mms-tts-eng"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class EspeakEngine:
    name = "espeak"

    def __init__(self, voice: str | None = None, speed: int = 165, pitch: int = 50):
        from plugins.asr_tts.corpus import require_espeak

        require_espeak()
        self.voice, self.speed, self.pitch = voice, speed, pitch

    def voice_for(self, text: str) -> str:
        """The asked voice, or Mandarin (cmn) for Chinese text, else American English."""
        if self.voice:
            return self.voice
        return "cmn" if CJK.search(text) else "en-us"

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        import soundfile as sf

        from plugins.asr_tts.corpus import synthesize

        with tempfile.TemporaryDirectory() as tmp:
            path = synthesize(text, Path(tmp) / "out.wav", self.voice_for(text), self.speed, self.pitch)
            audio, rate = sf.read(str(path), dtype="float32")
        return audio, rate


class VitsEngine:
    """A pretrained MMS-TTS / VITS model from the Hugging Face hub (or a local copy of one)."""

    name = "vits"

    def __init__(self, model: str | None = None, device: str | None = None, seed: int = 0):
        import torch
        from transformers import AutoTokenizer, VitsModel

        from core import resolve_device

        self.device = resolve_device(device or "auto")
        source = model or DEFAULT_VITS
        try:
            self.model = VitsModel.from_pretrained(source).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as exc:
            raise AppsError(
                f"cannot load the VITS model '{source}': {str(exc).splitlines()[0][:200]}",
                hint="VITS needs the Hugging Face hub once (then it is cached); offline, use "
                "--engine espeak or --engine tacotron2",
            ) from None
        self.seed = seed
        self.torch = torch

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        inputs = self.tokenizer(text, return_tensors="pt").to(self.device)
        if inputs["input_ids"].shape[1] == 0:
            raise AppsError(f"the VITS vocabulary cannot spell {text!r}")
        self.torch.manual_seed(self.seed)
        with self.torch.inference_mode():
            wave = self.model(**inputs).waveform[0]
        return wave.float().cpu().numpy(), int(self.model.config.sampling_rate)


class TacotronEngine:
    """Tacotron 2 from a ``tacotron2-commands`` run directory (default: the one 'apps prepare tts' built);
    Griffin-Lim turns mels into sound."""

    name = "tacotron2"

    def __init__(self, model: str | None = None, device: str | None = None):
        from plugins.asr_tts.tacotron import default_run, load_tacotron

        self.tts = load_tacotron(Path(model) if model else default_run(), device)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        return self.tts.synthesize(text)


def make_engine(
    engine: str = "espeak",
    model: str | None = None,
    voice: str | None = None,
    speed: int = 165,
    pitch: int = 50,
    device: str | None = None,
):
    if engine == "espeak":
        return EspeakEngine(voice, speed, pitch)
    if engine == "vits":
        return VitsEngine(model, device)
    if engine == "tacotron2":
        return TacotronEngine(model, device)
    raise AppsError(f"unknown TTS engine '{engine}'", hint=f"use one of {', '.join(ENGINES)}")


def speak(engine, text: str) -> dict:
    """Synthesise ``text``; returns the audio plus timings (real-time factor = compute / audio seconds)."""
    if not text.strip():
        raise AppsError("nothing to say: the text is empty", hint='apps run tts "hello world" -o hello.wav')
    began = time.perf_counter()
    audio, rate = engine.synthesize(text)
    seconds = time.perf_counter() - began
    duration = len(audio) / rate
    return {
        "audio": audio,
        "sample_rate": rate,
        "duration_s": round(duration, 3),
        "seconds": round(seconds, 4),
        "rtf": round(seconds / max(duration, 1e-6), 4),
    }


def play(audio: np.ndarray, rate: int) -> None:
    """Play through the default output device (sounddevice); a clear error where there is none."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise AppsError(
            f"cannot play audio: {exc}",
            hint="pip install sounddevice (and the PortAudio library: apt-get install libportaudio2)",
        ) from None
    try:
        sd.play(audio, rate)
        sd.wait()
    except Exception as exc:
        raise AppsError(
            f"no audio output device: {exc}", hint="write a file with -o out.wav instead"
        ) from None
