"""asr live path: voice activity over a tracked noise floor. Noise files (white, pink, fan) fed through the
same streaming code as the microphone give "no speech detected", never a command; speech over steady
noise is still heard. No model is trained here: the CLI test uses a random tiny model (any transcript
would show as a command, so only the detector keeps the output empty)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from core.errors import AppsError

RATE = 16000


def background(kind: str, seconds: float, level_db: float, seed: int = 0) -> np.ndarray:
    """``seconds`` of steady ``kind`` noise at ``level_db`` dBFS (RMS)."""
    from plugins.asr_tts.augment import noise

    sound = noise(kind, int(seconds * RATE), np.random.default_rng(seed))
    return (sound / np.sqrt(np.mean(sound**2)) * 10 ** (level_db / 20)).astype(np.float32)


def blocks(audio: np.ndarray):
    return [audio[i : i + 1600] for i in range(0, len(audio), 1600)]


def syllables(seconds: float, level_db: float, seed: int = 1) -> np.ndarray:
    """A speech-like sound: voiced bursts at ~4 syllables a second with short gaps (not steady)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    voiced = np.sign(np.sin(2 * np.pi * 120 * t)) * 0.5 + rng.standard_normal(len(t)) * 0.2
    sound = envelope * voiced
    return (sound / np.sqrt(np.mean(sound**2)) * 10 ** (level_db / 20)).astype(np.float32)


@pytest.mark.parametrize("kind", ["white", "pink", "fan", "hum", "brown"])
@pytest.mark.parametrize("level_db", [-50.0, -30.0, -15.0])
def test_steady_noise_alone_opens_no_utterance(kind, level_db):
    from plugins.asr_tts.stream import segment_stream

    events = list(segment_stream(blocks(background(kind, 6.0, level_db))))
    assert events == []


def test_noise_switched_on_midway_becomes_the_floor():
    """A fan starting after 2 s of a quiet room opens an utterance, but its level sound becomes the new
    floor within 1.5 s and the utterance is dropped: a partial transcript at most, no final one (no
    command); afterwards the fan is background."""
    from plugins.asr_tts.stream import segment_stream

    audio = np.concatenate([background("white", 2.0, -65.0), background("fan", 8.0, -25.0, seed=3)])
    events = list(segment_stream(blocks(audio)))
    assert [kind for kind, _ in events if kind == "final"] == []
    assert all(len(audio) <= 1.5 * RATE for _, audio in events)


@pytest.mark.parametrize("kind", ["white", "pink", "fan"])
def test_speech_over_steady_noise_is_still_heard(kind):
    from plugins.asr_tts.stream import segment_stream

    noise = background(kind, 5.0, -35.0)
    speech = syllables(1.5, -20.0)  # 15 dB above the noise
    audio = noise.copy()
    audio[RATE * 2 : RATE * 2 + len(speech)] += speech
    finals = [audio for kind, audio in segment_stream(blocks(audio)) if kind == "final"]
    assert len(finals) == 1
    assert 1.3 <= len(finals[0]) / RATE <= 2.4  # the syllables, pre-roll and the closing pause


def test_vad_threshold_is_a_positive_margin():
    from plugins.asr_tts.stream import NoiseFloor

    with pytest.raises(AppsError, match="margin above the noise floor"):
        NoiseFloor(-45.0)


@pytest.fixture(scope="module")
def random_tiny_model(tmp_path_factory):
    """A 1-layer model with random weights saved as a run: it transcribes anything as some text."""
    from plugins.asr_tts.asr_model import CharVocab, build_model

    folder = tmp_path_factory.mktemp("tiny")
    vocab = CharVocab()
    model = build_model(len(vocab), vocab.blank_id, 32, 1, 2, 2, 9, 4, 8, 0.0, initializer_range=0.5)
    model.save_pretrained(folder)
    vocab.save(folder)
    return folder


@pytest.mark.parametrize("kind", ["white", "pink", "fan"])
def test_noise_files_through_the_cli_stream_say_no_speech(kind, random_tiny_model, tmp_path):
    from click.testing import CliRunner

    from core.cli import cli

    path = tmp_path / f"{kind}.wav"
    sf.write(path, background(kind, 4.0, -25.0), RATE)
    result = CliRunner().invoke(
        cli, ["run", "asr", str(path), "--stream", "--json", "--model", str(random_tiny_model)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines == [{"file": str(path), "text": "", "speech": False, "message": "no speech detected"}]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_spoken_command_over_fan_noise_reaches_the_transcriber(random_tiny_model, tmp_path):
    from plugins.asr_tts.audio import load_audio
    from plugins.asr_tts.corpus import synthesize
    from plugins.asr_tts.stream import listen

    speech = load_audio(synthesize("open the drawer", tmp_path / "cmd.wav"))
    speech = speech / np.sqrt(np.mean(speech**2)) * 10 ** (-20 / 20)
    audio = background("fan", 5.0, -35.0)
    audio[RATE * 2 : RATE * 2 + len(speech)] += speech

    class Recorder:  # stands in for the model: what the detector hands over is what matters here
        heard: list = []

        def transcribe(self, waves):
            self.heard.extend(waves)
            return [{"text": "x", "speech": True}]

    results = list(listen(Recorder(), blocks=blocks(audio)))
    assert len(results) == 1
    assert abs(len(Recorder.heard[-1]) / RATE - len(speech) / RATE) < 1.0
