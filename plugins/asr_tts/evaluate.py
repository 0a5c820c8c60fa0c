"""``apps eval``: the asr app's WER/CER on held-out speech by source (eval_sources.py), and the tts app's round trip (our ASR model
listening to Tacotron 2 and to espeak-ng saying the same sentences)."""

from __future__ import annotations

import time
from pathlib import Path

from core import AppsError


def _score(transcriber, rows, with_greedy: bool) -> dict:
    """WER/CER (and the greedy decoder's beside the lexicon's or lm's), worst voices and wrong examples."""
    from plugins.asr_tts.asr_model import error_rates
    from plugins.asr_tts.audio import load_audio

    waves = [row.audio if row.audio is not None else load_audio(row.audio_filepath) for row in rows]
    began = time.perf_counter()
    results = transcriber.transcribe(waves, with_greedy=with_greedy)
    spent = time.perf_counter() - began
    references = [row.text for row in rows]
    metrics = error_rates(references, [r["text"] for r in results])
    if with_greedy:  # the same forward pass decoded without the lexicon, for comparison
        greedy = error_rates(references, [r["greedy_text"] for r in results])
        metrics.update({f"greedy_{k}": v for k, v in greedy.items()})
    audio_s = sum(len(w) for w in waves) / 16000
    by_voice: dict[str, list] = {}
    for row, result in zip(rows, results, strict=False):
        if row.voice:
            by_voice.setdefault(row.voice.split("+")[-1], []).append((row.text, result["text"]))
    worst = sorted(
        ((v, error_rates(*zip(*pairs, strict=False))["wer"]) for v, pairs in by_voice.items()),
        key=lambda x: -x[1],
    )
    errors = [
        {"reference": row.text, "hypothesis": r["text"]}
        for row, r in zip(rows, results, strict=False)
        if r["text"] != row.text.lower().strip()
    ][:5]
    return {
        "utterances": len(rows),
        "audio_seconds": round(audio_s, 1),
        **{k: round(v, 4) for k, v in metrics.items()},
        "rtf": round(spent / max(audio_s, 1e-6), 4),
        "worst_voices": [{"voice": v, "wer": round(w, 4)} for v, w in worst[:3]],
        "examples_wrong": errors,
    }


def _read(dataset: str, limit: int | None):
    from plugins.asr_tts.data import read_any, report_skipped

    split = "test" if Path(dataset).is_dir() else "validation"
    rows, skipped = read_any(dataset, split)
    report_skipped(skipped, len(rows))
    if not rows:
        raise AppsError(f"no usable utterances in {dataset}")
    return rows[:limit] if limit else rows


def evaluate_asr(
    model: str, dataset: str | None = None, limit: int | None = None, device="auto", decoder: str = "auto"
) -> dict:
    """WER/CER of ``model`` by source: ``dataset``, or by default every held-out source of eval_sources.py
    (espeak-ng's held-out voices, flite clean, flite through sox's reverb, flite at 10 dB flite babble).
    With the lexicon or lm decoder the greedy decoder's WER/CER come beside it (``greedy_wer``, ``greedy_cer``);
    ``limit`` caps the utterances of each source."""
    import sys

    from plugins.asr_tts.asr_model import Transcriber

    if dataset is not None:
        sources = {str(dataset): str(dataset)}
    else:
        from plugins.asr_tts.eval_sources import held_out_sources

        sources = held_out_sources(progress=lambda line: print(line, file=sys.stderr))
        if all(spec.startswith("skipped") for spec in sources.values()):
            raise AppsError(
                "no held-out corpus to evaluate on", hint="build it with 'apps prepare asr', or --dataset"
            )
    transcriber = Transcriber.load(model, device, decoder=decoder)
    out = {"model": str(model), "decoder": transcriber.decoder, "sources": {}}
    for name, spec in sources.items():
        if spec.startswith("skipped"):
            out["sources"][name] = {"skipped": spec}
            continue
        rows = _read(spec, limit)
        out["sources"][name] = {
            "dataset": spec,
            **_score(transcriber, rows, transcriber.decoder != "greedy"),
        }
    return out


def evaluate_tts(tts_model: str | None, asr_model: str, limit: int = 40, device="auto") -> dict:
    """``apps eval tts``: WER/CER of ``asr_model`` listening to Tacotron 2 (``tts_model``, default: the
    prepared one) and to espeak-ng saying the same ``limit`` sentences of the command grammar. Without a
    Tacotron 2 the espeak-ng numbers come alone, with ``tacotron2_error`` saying why."""
    import random

    from plugins.asr_tts.asr_model import Transcriber, error_rates
    from plugins.asr_tts.audio import resample
    from plugins.asr_tts.corpus import random_text
    from plugins.asr_tts.tts import EspeakEngine, TacotronEngine

    rng = random.Random(123)
    texts = [random_text(rng) for _ in range(limit)]
    transcriber = Transcriber.load(asr_model, device)
    out = {"sentences": len(texts), "asr_model": str(asr_model), "asr_decoder": transcriber.decoder}
    engines = [("espeak", EspeakEngine("en-us", 160))]
    try:
        engines.append(("tacotron2", TacotronEngine(tts_model, device)))
    except AppsError as exc:
        out["tacotron2_error"] = exc.message
    for name, engine in engines:
        waves = []
        for text in texts:
            audio, rate = engine.synthesize(text)
            waves.append(resample(audio, rate))
        hyps = [r["text"] for r in transcriber.transcribe(waves)]
        metrics = error_rates(texts, hyps)
        out[f"{name}_wer"], out[f"{name}_cer"] = round(metrics["wer"], 4), round(metrics["cer"], 4)
    return out
