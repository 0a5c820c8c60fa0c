"""Speech datasets: NeMo-style JSONL manifests, LibriSpeech folders, Hugging Face audio datasets (online).

Every reader yields ``Utterance`` rows; bad rows are reported with file:line and counted instead of
crashing halfway through training.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import AppsError


@dataclass
class Utterance:
    audio_filepath: str
    text: str
    duration: float | None = None
    voice: str | None = None
    where: str = ""  # file:line it came from, for error messages
    audio: np.ndarray | None = None  # in-memory audio (Hugging Face datasets)


@dataclass
class Skipped:
    where: str
    reason: str


def normalize_text(text: str) -> str:
    """Lowercase, keep letters/apostrophes/digits/other scripts, turn punctuation into spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[\"!?.,;:()\[\]{}<>/\\_\-–—]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def read_manifest(path: str | Path, check_files: bool = True) -> tuple[list[Utterance], list[Skipped]]:
    """Read a JSONL manifest. Relative ``audio_filepath`` values are relative to the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise AppsError(f"manifest {path} does not exist")
    rows, skipped = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                skipped.append(Skipped(where, f"invalid JSON ({exc.msg})"))
                continue
            if not isinstance(item, dict) or "audio_filepath" not in item or "text" not in item:
                skipped.append(Skipped(where, "needs the keys audio_filepath and text"))
                continue
            audio = Path(item["audio_filepath"])
            if not audio.is_absolute():
                audio = path.parent / audio
            if check_files and not audio.is_file():
                skipped.append(Skipped(where, f"missing audio file {audio}"))
                continue
            rows.append(
                Utterance(str(audio), str(item["text"]), item.get("duration"), item.get("voice"), where)
            )
    return rows, skipped


def read_librispeech(folder: str | Path) -> tuple[list[Utterance], list[Skipped]]:
    """LibriSpeech layout: ``SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt`` with lines ``ID TEXT`` and
    ``ID.flac`` beside it. ``folder`` may be a split (``train-clean-100``) or any folder above one."""
    folder = Path(folder)
    transcripts = sorted(folder.rglob("*.trans.txt"))
    if not transcripts:
        raise AppsError(
            f"no LibriSpeech transcripts (*.trans.txt) under {folder}",
            hint="point at a split folder such as LibriSpeech/test-clean",
        )
    rows, skipped = [], []
    for trans in transcripts:
        for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{trans}:{number}"
            if not line.strip():
                continue
            key, _, text = line.partition(" ")
            audio = next(
                (
                    trans.parent / f"{key}{ext}"
                    for ext in (".flac", ".wav")
                    if (trans.parent / f"{key}{ext}").is_file()
                ),
                None,
            )
            if audio is None:
                skipped.append(Skipped(where, f"missing audio file {trans.parent / (key + '.flac')}"))
                continue
            rows.append(Utterance(str(audio), text, None, key.split("-")[0], where))
    return rows, skipped


def read_hf_dataset(spec: str, split: str) -> tuple[list[Utterance], list[Skipped]]:
    """``hf:NAME[:CONFIG]`` -> utterances from a Hugging Face audio dataset (needs the hub)."""
    from plugins.asr_tts.audio import SAMPLE_RATE, downmix, resample

    try:
        import datasets
    except ImportError as exc:
        raise AppsError(
            "the 'datasets' package is needed for hf: datasets", hint="pip install datasets"
        ) from exc
    name, _, config = spec[3:].partition(":")
    try:
        data = datasets.load_dataset(name, config or None, split=split)
    except Exception as exc:
        raise AppsError(
            f"cannot load the Hugging Face dataset '{name}' ({split}): {exc}",
            hint="this needs the Hugging Face hub; offline, use a manifest or LibriSpeech folder",
        ) from None
    text_key = next(
        (k for k in ("text", "sentence", "transcription", "normalized_text") if k in data.column_names), None
    )
    if "audio" not in data.column_names or text_key is None:
        raise AppsError(
            f"dataset '{name}' needs an 'audio' column and a text column; it has {data.column_names}"
        )
    rows = []
    for i, item in enumerate(data):
        audio = item["audio"]
        wave = resample(downmix(np.asarray(audio["array"])), audio["sampling_rate"], SAMPLE_RATE)
        rows.append(
            Utterance(f"{name}[{i}]", item[text_key], len(wave) / SAMPLE_RATE, None, f"{name}[{i}]", wave)
        )
    return rows, []


def read_any(spec: str | Path, split: str = "train") -> tuple[list[Utterance], list[Skipped]]:
    """A manifest file, a LibriSpeech folder, a folder holding ``{split}.jsonl``, or ``hf:NAME``."""
    text = str(spec)
    if text.startswith("hf:"):
        return read_hf_dataset(text, split)
    path = Path(spec)
    if path.is_dir():
        if (path / f"{split}.jsonl").is_file():
            return read_manifest(path / f"{split}.jsonl")
        return read_librispeech(path)
    return read_manifest(path)


def report_skipped(skipped: list[Skipped], total: int, out=None, limit: int = 5) -> None:
    """Print the count and the first few skipped rows (file:line: reason)."""
    if not skipped:
        return
    out = out or sys.stderr
    print(f"warning: skipped {len(skipped)} of {total + len(skipped)} manifest rows:", file=out)
    for item in skipped[:limit]:
        print(f"  {item.where}: {item.reason}", file=out)
    if len(skipped) > limit:
        print(f"  ... and {len(skipped) - limit} more", file=out)


class SpeechDataset:
    """Map-style dataset of ``{"audio": float32 array, "text": str}`` with optional augmentation: the
    acoustic conditions of ``augment`` (see augment.py), or the older speed perturbation and white, pink or
    hum noise (``noise_prob``); random silences and gain either way."""

    def __init__(
        self,
        rows: list[Utterance],
        noise_prob: float = 0.0,
        snr_db=(8.0, 30.0),
        seed: int = 0,
        max_seconds: float | None = None,
        speed_perturb: float = 0.0,
        augment=None,
    ):
        self.rows = rows
        self.speed_perturb = speed_perturb
        self.noise_prob, self.snr_db = noise_prob, snr_db
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.max_samples = int(max_seconds * 16000) if max_seconds else None
        self.augment = augment  # AugmentSettings or None
        self.augmenter = None
        self.recent: list[np.ndarray] = []  # the last utterances loaded: babble is made of them
        self.worker_seed = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> list[float]:
        """Seconds of each utterance, for batches of like lengths (``group_by_length``); where a manifest
        has no duration, its transcript's length at 15 characters a second."""
        return [row.duration or len(row.text) / 15 for row in self.rows]

    def __getitem__(self, index: int) -> dict:
        from plugins.asr_tts.audio import add_noise, change_speed, load_audio

        row = self.rows[index]
        audio = row.audio if row.audio is not None else load_audio(row.audio_filepath)
        if self.max_samples:
            audio = audio[: self.max_samples]
        if self.augment is not None:
            return {"audio": self._augmented(audio), "text": row.text}
        if self.speed_perturb:
            audio = change_speed(
                audio, float(self.rng.uniform(1 - self.speed_perturb, 1 + self.speed_perturb))
            )
        if self.noise_prob:
            audio = self._reframe(audio)
        if self.noise_prob and self.rng.random() < self.noise_prob:
            kind = self.rng.choice(["white", "pink", "hum"])
            audio = add_noise(audio, float(self.rng.uniform(*self.snr_db)), self.rng, kind)
        if self.noise_prob:  # random gain: microphones differ in level
            audio = audio * float(self.rng.uniform(0.3, 1.5))
        return {"audio": audio, "text": row.text}

    def _augmented(self, audio: np.ndarray) -> np.ndarray:
        from plugins.asr_tts.augment import Augmenter

        seed = _worker_seed()
        if self.augmenter is None or seed != self.worker_seed:  # a new epoch's worker: new random draws
            self.worker_seed = seed
            self.rng = np.random.default_rng([self.seed, seed or 0])
            self.augmenter = Augmenter(self.augment, int(self.rng.integers(2**31)))
        self.recent = (self.recent + [audio])[-48:]
        return self.augmenter(self._reframe(audio), self.recent[:-1])

    def _reframe(self, audio: np.ndarray) -> np.ndarray:
        """Trim the synthesiser's silences and put back random short ones (recordings start anywhere)."""
        from plugins.asr_tts.audio import speech_frames

        active = np.flatnonzero(speech_frames(audio, -50.0))
        if len(active) == 0:
            return audio
        core = audio[active[0] * 480 : (active[-1] + 1) * 480]
        lead, trail = (int(self.rng.uniform(a, b) * 16000) for a, b in ((0.0, 0.2), (0.05, 0.2)))
        return np.concatenate([np.zeros(lead, np.float32), core, np.zeros(trail, np.float32)])


def _worker_seed() -> int | None:
    """The seed of this DataLoader worker (new each epoch), or None in the main process."""
    import torch.utils.data

    info = torch.utils.data.get_worker_info()
    return None if info is None else int(info.seed % 2**32)
