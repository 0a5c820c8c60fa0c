"""The held-out sources of ``apps eval asr``: speech the model never heard, from engines, rooms and noise
that are reserved for evaluation (never in training, never used to choose settings).

- ``espeak-ng held-out voices``: the corpus's test split (10 espeak-ng variants never heard in training);
- ``flite clean``: flite's voices (``FLITE_VOICES``: the CMU ARCTIC speakers slt, rms, awb and Kal)
  saying commands of the grammar;
- ``flite + sox reverb``: the same recordings through sox's ``reverb`` effect (rooms of several sizes);
- ``flite + 10 dB flite babble``: the same recordings under four other flite talkers at 10 dB SNR.
The flite sets are synthesised once into ``$APPS_HOME/data/asr/flite-eval`` (``apt-get install flite
sox``); a missing tool skips its sources with the reason.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from core import AppsError, data_dir

FLITE_VOICES = ["slt", "rms", "awb", "kal16"]
ESPEAK_SOURCE = "espeak-ng held-out voices"
FLITE_SOURCES = {
    "flite clean": "flite-clean.jsonl",
    "flite + sox reverb": "flite-reverb.jsonl",
    "flite + 10 dB flite babble": "flite-babble10.jsonl",
}
BABBLE_SNR_DB = 10.0
SETTINGS = {"voices": FLITE_VOICES, "per_voice": 50, "seed": 2026, "babble_snr": BABBLE_SNR_DB, "version": 1}


def flite_folder() -> Path:
    return data_dir("asr") / "flite-eval"


def _flite(text: str, voice: str, path: Path) -> np.ndarray:
    from plugins.asr_tts.audio import load_audio

    done = subprocess.run(
        ["flite", "-voice", voice, "-t", text, "-o", str(path)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 or not path.is_file():
        raise AppsError(
            f"flite failed for voice '{voice}': {done.stderr.strip()}", hint="flite -lv lists voices"
        )
    return load_audio(path)


def _reverb(source: Path, target: Path, rng: random.Random) -> None:
    """sox's reverb: reverberance 30-80 %, HF damping 30-70 %, room scale 40-100 %, pre-delay 0-30 ms."""
    args = [
        str(rng.randint(30, 80)),
        str(rng.randint(30, 70)),
        str(rng.randint(40, 100)),
        "100",
        str(rng.randint(0, 30)),
    ]
    done = subprocess.run(["sox", str(source), str(target), "reverb", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AppsError(f"sox reverb failed: {done.stderr.strip()}")


def build_flite_sets(folder: Path | None = None, settings: dict | None = None, progress=None) -> dict:
    """Synthesise the flite sets (clean, reverb when sox is there, babble) into ``folder``; reused while
    ``settings`` match. Returns {source name: manifest path or the reason it is missing}."""
    from plugins.asr_tts.audio import load_audio, save_wav
    from plugins.asr_tts.corpus import random_text

    folder = folder or flite_folder()
    settings = settings or SETTINGS
    if shutil.which("flite") is None:
        reason = "skipped: flite is not installed (apt-get install flite)"
        return dict.fromkeys(FLITE_SOURCES, reason)
    stamp = folder / "settings.json"
    names = dict(FLITE_SOURCES)
    has_sox = shutil.which("sox") is not None
    wanted = {**settings, "sox": has_sox}
    if not (stamp.is_file() and json.loads(stamp.read_text()) == wanted):
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        rng = random.Random(settings["seed"])
        nprng = np.random.default_rng(settings["seed"])
        rows: dict[str, list] = {name: [] for name in names}
        clean, talkers = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for voice in settings["voices"]:
                for i in range(settings["per_voice"]):
                    text = random_text(rng)
                    path = folder / "audio" / f"clean-{voice}-{i:03d}.wav"
                    save_wav(path, _flite(text, voice, Path(tmp) / "raw.wav"))
                    clean.append((path, text, voice))
                    # another flite talker saying something else: material for the babble
                    other = rng.choice(settings["voices"])
                    talkers.append(_flite(random_text(rng), other, Path(tmp) / "raw.wav"))
                if progress:
                    progress(f"flite: voice {voice} done")
        for path, text, voice in clean:
            row = {"text": text, "voice": f"flite+{voice}"}
            rows["flite clean"].append({"audio_filepath": f"audio/{path.name}", **row})
            if has_sox:
                target = path.with_name(path.name.replace("clean-", "reverb-"))
                _reverb(path, target, rng)
                rows["flite + sox reverb"].append({"audio_filepath": f"audio/{target.name}", **row})
            speech = load_audio(path)
            babble = np.zeros(len(speech))
            # four talkers, each at a random start
            for k in nprng.choice(len(talkers), 4, replace=len(talkers) < 4):
                voice_audio = np.resize(talkers[k], len(speech) + len(talkers[k]))
                offset = int(nprng.integers(len(talkers[k])))
                babble += voice_audio[offset : offset + len(speech)] / (np.std(talkers[k]) + 1e-9)
            mixed = _mix(speech, babble, settings["babble_snr"])
            target = path.with_name(path.name.replace("clean-", "babble-"))
            save_wav(target, mixed / max(1.0, float(np.max(np.abs(mixed)))))
            rows["flite + 10 dB flite babble"].append({"audio_filepath": f"audio/{target.name}", **row})
        for name, items in rows.items():
            (folder / names[name]).write_text("".join(json.dumps(r) + "\n" for r in items))
        stamp.write_text(json.dumps(wanted))
    out = {name: str(folder / file) for name, file in names.items()}
    if not has_sox:
        out["flite + sox reverb"] = "skipped: sox is not installed (apt-get install sox)"
    return out


def _mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` + ``noise`` scaled to ``snr_db`` (powers over the whole utterance)."""
    power = float(np.mean(speech.astype(np.float64) ** 2)) + 1e-10
    noise_power = float(np.mean(noise**2)) + 1e-10
    return (speech + noise * np.sqrt(power / (noise_power * 10 ** (snr_db / 10)))).astype(np.float32)


def held_out_sources(progress=None) -> dict:
    """{source name: manifest path, or 'skipped: reason'} for every source of ``apps eval asr``."""
    from plugins.asr_tts.corpus import corpus_folder

    test = corpus_folder() / "test.jsonl"
    espeak = str(test) if test.is_file() else "skipped: no corpus yet (apps prepare asr builds it)"
    return {ESPEAK_SOURCE: espeak, **build_flite_sets(progress=progress)}
