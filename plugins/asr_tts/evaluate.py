"""``apps eval``: the asr app's WER/CER on held-out speech, and the tts app's round trip (our ASR model
listening to Tacotron 2 and to espeak-ng saying the same sentences)."""

from __future__ import annotations

import time
from pathlib import Path

from core import AppsError


def _rows_for(dataset: str | None, limit: int | None):
    from plugins.asr_tts.data import read_any, report_skipped

    if dataset is None:
        from plugins.asr_tts.corpus import corpus_folder

        folder = corpus_folder()
        if not (folder / "test.jsonl").is_file():
            raise AppsError(
                f"no held-out corpus in {folder}", hint="build it with 'apps prepare asr', or --dataset"
            )
        dataset = str(folder)
    split = "test" if Path(dataset).is_dir() else "validation"
    rows, skipped = read_any(dataset, split)
    report_skipped(skipped, len(rows))
    return rows[:limit] if limit else rows, dataset


def evaluate_asr(
    model: str, dataset: str | None = None, limit: int | None = None, device="auto", decoder: str = "auto"
) -> dict:
    """WER/CER of ``model`` on ``dataset`` (default: the held-out voices), with real-time factor. With the
    lexicon decoder, the greedy decoder's WER/CER are reported beside it (``greedy_wer``, ``greedy_cer``)."""
    from plugins.asr_tts.asr_model import Transcriber, error_rates
    from plugins.asr_tts.audio import load_audio

    rows, source = _rows_for(dataset, limit)
    if not rows:
        raise AppsError(f"no usable utterances in {source}")
    transcriber = Transcriber.load(model, device, decoder=decoder)
    waves = [row.audio if row.audio is not None else load_audio(row.audio_filepath) for row in rows]
    began = time.perf_counter()
    decoder = transcriber.decoder
    results = transcriber.transcribe(waves, with_greedy=decoder == "lexicon")
    spent = time.perf_counter() - began
    references = [row.text for row in rows]
    metrics = error_rates(references, [r["text"] for r in results])
    if decoder == "lexicon":  # the same forward pass decoded without the lexicon, for comparison
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
        "model": str(model),
        "dataset": source,
        "decoder": decoder,
        "utterances": len(rows),
        "audio_seconds": round(audio_s, 1),
        **{k: round(v, 4) for k, v in metrics.items()},
        "rtf": round(spent / max(audio_s, 1e-6), 4),
        "worst_voices": [{"voice": v, "wer": round(w, 4)} for v, w in worst[:3]],
        "examples_wrong": errors,
    }


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
