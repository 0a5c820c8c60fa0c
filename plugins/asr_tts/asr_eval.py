"""Evaluation, offline defaults, benchmarks and the TTS->ASR round trip of the speech apps."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np

from core.errors import AppsError


def _rows_for(dataset: str | None, limit: int | None):
    from plugins.asr_tts.data import read_any, report_skipped

    if dataset is None:
        from plugins.asr_tts.asr_train import corpus_folder

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


def prepare_default(app, force: bool = False, pretrained: bool = False, overrides=None) -> str:
    """Build the offline default ASR model (recipe conformer-ctc-commands) or cache the hub model."""

    if pretrained:
        from plugins.asr_tts.app import PARAKEET_HUB
        from plugins.asr_tts.asr_model import Transcriber

        Transcriber.load(PARAKEET_HUB, "cpu")
        return f"{PARAKEET_HUB} is in the Hugging Face cache; use it with --model {PARAKEET_HUB}"
    return _train_default(app, "asr", "conformer-ctc-commands", force, overrides, "vocab.json")


def prepare_tacotron(app, force: bool = False, overrides=None) -> str:
    return _train_default(app, "tts", "tacotron2-commands", force, overrides, "tts_config.json")


def _train_default(app, app_name: str, recipe_name: str, force: bool, overrides, marker: str) -> str:
    from core.paths import default_model_dir
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from core.training import run_training

    target = default_model_dir(app_name)
    if (target / marker).is_file() and not force:
        return f"the offline default {app_name} model is ready: {target} (--force rebuilds it)"
    if target.exists():
        shutil.rmtree(target)
    recipe = load_recipe(app.recipe_class, get_manager().recipe_path(app_name, recipe_name), overrides or [])
    print(f"training the offline default with recipe {recipe_name} into {target}", file=sys.stderr)
    began = time.time()
    run_training(app, recipe, run_dir=target, recipe_name=recipe_name)
    return f"built {target} in {time.time() - began:.0f} s"


def _time_model(model, seconds: float, repeats: int = 3) -> float:
    """Median seconds to run ``model`` on ``seconds`` of audio features (batch 1)."""
    import torch

    from plugins.asr_tts.audio import LogMel

    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)
    features = LogMel(n_mels=model.config.encoder_config.num_mel_bins)
    timings = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            began = time.perf_counter()
            feats, mask = features([wave])
            model(input_features=feats, attention_mask=mask).logits.argmax(-1)
            timings.append(time.perf_counter() - began)
    return float(np.median(timings[1:]))


def benchmark_rows(device: str = "auto", seconds: float = 10.0, skip_large: bool = False) -> list[dict]:
    """Real-time factor (compute seconds / audio seconds, batch 1, features included) of the offline default
    and of the full parakeet-ctc-0.6b architecture with random weights, and the streaming latency (end of
    speech -> final transcript) of the default."""
    import torch

    from core.device import resolve_device
    from core.paths import default_model_dir
    from plugins.asr_tts.asr_model import Transcriber, build_model, parakeet_06b_random

    device = resolve_device(device)
    default = default_model_dir("asr")
    if (default / "vocab.json").is_file():
        name, model = "offline default", Transcriber.load(default, device).model
    else:
        name, model = "offline default architecture (untrained: run apps prepare asr)", build_model(29)
    model = model.to(device).eval()
    threads = torch.get_num_threads()
    params = sum(p.numel() for p in model.parameters())
    label = f"{name} ({params / 1e6:.1f}M params), {seconds:g} s audio, {device}, {threads} threads"
    small = _time_model(model, seconds)
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
    from plugins.asr_tts.stream import END_SILENCE_S

    for utterance_s in (1.5, 3.0):
        spent = _time_model(model, utterance_s)
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


def round_trip(tts_model: str | None, asr_model: str, limit: int = 40, device="auto") -> dict:
    """Our ASR listening to our Tacotron 2 and to espeak-ng saying the same held-out sentences."""
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
