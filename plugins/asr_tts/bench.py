"""``apps bench``: speed of the asr app (real-time factor of the offline default beside the full
parakeet-ctc-0.6b architecture, streaming latency) and of the tts app (espeak-ng and Tacotron 2)."""

from __future__ import annotations

import sys
import time

import numpy as np

from core import AppsError
from plugins.asr_tts.stream import END_SILENCE_S


def _speech(seconds: float) -> np.ndarray:
    """``seconds`` of the corpus's held-out utterances one after another (decoding costs more on speech than
    on noise), or of noise when the corpus is not built."""
    from plugins.asr_tts.audio import load_audio
    from plugins.asr_tts.corpus import corpus_folder

    files = sorted((corpus_folder() / "audio").glob("test-*.wav"))
    if not files:
        return (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000))).astype(np.float32)
    waves, length = [], 0
    for path in files:
        waves.append(load_audio(path))
        length += len(waves[-1])
        if length >= seconds * 16000:
            break
    return np.concatenate(waves)[: int(seconds * 16000)]


def _time_model(model, seconds: float, repeats: int = 3, transcriber=None) -> float:
    """Median seconds to turn ``seconds`` of audio into text (batch 1, features included): the
    ``transcriber``'s own decoder (its lexicon and word bigrams) when given, else ``model`` and argmax."""
    import torch

    from plugins.asr_tts.audio import LogMel

    wave = _speech(seconds)
    features = LogMel(n_mels=model.config.encoder_config.num_mel_bins)
    timings = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            began = time.perf_counter()
            if transcriber is not None:
                transcriber._decode_batch([wave])
            else:
                feats, mask = features([wave])
                model(input_features=feats, attention_mask=mask).logits.argmax(-1)
            timings.append(time.perf_counter() - began)
    return float(np.median(timings[1:]))


def asr_benchmark_rows(device: str = "auto", seconds: float = 10.0, skip_large: bool = False) -> list[dict]:
    """Real-time factor (compute seconds / audio seconds, batch 1, features included) of the offline default
    (its decoder included) and of the full parakeet-ctc-0.6b architecture with random weights (argmax), and
    the streaming latency (end of speech -> final transcript) of the default."""
    import torch

    from core import default_is_built, default_model_dir, resolve_device
    from plugins.asr_tts.asr_model import Transcriber, build_model, parakeet_06b_random

    device = resolve_device(device)
    if default_is_built("asr"):
        transcriber = Transcriber.load(default_model_dir("asr"), device)
        name, model = f"offline default, {transcriber.decoder} decoder", transcriber.model
    else:
        name, model = "offline default architecture (untrained: run apps prepare asr)", build_model(29)
        transcriber = None
    model = model.to(device).eval()
    threads = torch.get_num_threads()
    params = sum(p.numel() for p in model.parameters())
    label = f"{name} ({params / 1e6:.1f}M params), {seconds:g} s audio, {device}, {threads} threads"
    small = _time_model(model, seconds, transcriber=transcriber)
    rows = [
        {
            "name": label,
            "metric": "real-time factor",
            "value": round(small / seconds, 4),
            "unit": "x",
            "better": "lower",
            "goal": 0.05,
        }
    ]
    if not skip_large:
        big = parakeet_06b_random().to(device).eval()
        big_params = sum(p.numel() for p in big.parameters())
        large = _time_model(big, seconds, repeats=2)
        rows[0].update(peer="parakeet-ctc-0.6b architecture", peer_value=round(large / seconds, 4))
        rows.append(
            {
                "name": f"parakeet-ctc-0.6b architecture, random weights ({big_params / 1e6:.0f}M params), "
                f"{seconds:g} s audio, {device}, {threads} threads",
                "metric": "real-time factor",
                "value": round(large / seconds, 4),
                "unit": "x",
                "better": "lower",
            }
        )
    # The microphone loop decodes an utterance once the VAD has heard END_SILENCE_S of quiet.
    for utterance_s in (1.5, 3.0):
        spent = _time_model(model, utterance_s, transcriber=transcriber)
        rows.append(
            {
                "name": f"{name}: {utterance_s:g} s utterance, end of speech -> final text "
                f"(incl. {int(END_SILENCE_S * 1000)} ms VAD pause)",
                "metric": "streaming latency",
                "value": round(1000 * (spent + END_SILENCE_S), 1),
                "unit": "ms",
                "better": "lower",
            }
        )
    return rows


BENCH_SENTENCES = [
    "turn left",
    "move forward three",
    "pick up the red block",
    "rotate right five degrees",
    "what time is it",
    "the battery is low",
    "stop",
    "how are you today",
]


def tts_benchmark_rows(device: str | None = None) -> list[dict]:
    """Real-time factor (synthesis seconds / audio seconds) over command sentences, latency of one short
    command and peak memory, for espeak-ng and, once 'apps prepare tts' has built it, the Tacotron 2 default
    (Griffin-Lim included), which is measured against espeak-ng."""
    from core import PeakMemory
    from plugins.asr_tts.tts import EspeakEngine, TacotronEngine, speak

    engines = [("espeak-ng", EspeakEngine("en-us"))]
    try:
        engines.append(("tacotron2 offline default + Griffin-Lim", TacotronEngine(None, device)))
    except AppsError as exc:
        print(f"tacotron2 row skipped: {exc.message}", file=sys.stderr)
    rows, espeak_rows = [], None
    for name, engine in engines:
        speak(engine, "warm up")
        with PeakMemory(device or "cpu") as memory:
            results = [speak(engine, text) for text in BENCH_SENTENCES]
        latency = sorted(speak(engine, "turn left")["seconds"] for _ in range(3))[1]
        rtf = sum(r["seconds"] for r in results) / sum(r["duration_s"] for r in results)
        pair = [
            {
                "name": f"{name}: {len(results)} command sentences",
                "metric": "real-time factor",
                "value": round(rtf, 4),
                "unit": "x",
                "better": "lower",
                "peak_rss_mb": round(memory.peak / 2**20, 1),
            },
            {
                "name": f"{name}: 'turn left', text -> whole waveform",
                "metric": "latency",
                "value": round(1000 * latency, 1),
                "unit": "ms",
                "better": "lower",
            },
        ]
        if espeak_rows is None:
            espeak_rows = pair
        else:  # Tacotron 2 beside espeak-ng, measured in the same run
            for ours, peer in zip(pair, espeak_rows, strict=True):
                ours.update(peer="espeak-ng", peer_value=peer["value"])
        rows += pair
    return rows
