"""The offline speech corpus, synthesised with espeak-ng: digits, robot commands and short sentences.

Each utterance is spoken by a *voice* (an espeak-ng variant such as ``m3``, ``f2`` or ``klatt``, with an
accent such as ``en-us`` or ``en-gb-scotland``) at a random speed and pitch. Whole voices are held out for
the test split, so the word error rate measures how the model copes with speakers it never heard.
Manifests are NeMo-style JSONL: ``{"audio_filepath", "text", "duration", "voice"}``.

The tts app trains on a second, smaller corpus: one voice speaking the grammar (``build_voice_corpus``).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core import AppsError, data_dir
from plugins.asr_tts.recipe import ESPEAK_CORPUS

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NUMBERS = DIGITS[1:] + ["ten"]
DIRECTIONS = ["left", "right"]
COMMANDS = [
    "stop",
    "go",
    "start",
    "wait",
    "halt",
    "pause",
    "resume",
    "go home",
    "come here",
    "follow me",
    "turn around",
    "slow down",
    "speed up",
    "look up",
    "look down",
    "open the gripper",
    "close the gripper",
    "pick it up",
    "put it down",
    "lights on",
    "lights off",
    "dock now",
    "return to base",
    "emergency stop",
    "take a picture",
    "what do you see",
    "raise the arm",
    "lower the arm",
    "stand still",
    "sit down",
]
OBJECTS = ["red block", "blue ball", "green cup", "yellow box", "black pen", "white bottle"]
SENTENCES = [
    "hello robot",
    "good morning",
    "good night",
    "thank you very much",
    "how are you today",
    "what time is it",
    "what is the weather like",
    "tell me a joke",
    "where are you going",
    "the battery is low",
    "please charge the battery",
    "the door is open",
    "close the door please",
    "bring me the cup",
    "clean the table",
    "the room is dark",
    "play some music",
    "turn the music off",
    "i am hungry",
    "let us go outside",
    "the cat is sleeping",
    "my name is sam",
    "nice to meet you",
    "see you later",
    "it is very cold today",
    "the sun is shining",
    "is anybody there",
    "watch out for the wall",
    "the path is clear",
    "we are almost there",
    "call my friend",
    "set a timer for ten minutes",
    "read the message",
    "check the camera",
    "the floor is wet",
    "keep going straight",
    "that was great",
    "try it again",
    "show me the map",
    "where is the kitchen",
]

ACCENTS = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
]
# Timbre variants (espeak-ng-data/voices/!v). Novelty voices (whisper, robots, croak) are left out.
VARIANTS = [
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "adam",
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "david",
    "Denis",
    "Diogo",
    "ed",
    "edward",
    "Gene",
    "gustave",
    "Henrique",
    "Hugo",
    "iven",
    "Jacky",
    "john",
    "Lee",
    "linda",
    "Marco",
    "Mario",
    "max",
    "Michael",
    "michel",
    "Mike",
    "Nguyen",
    "norbert",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "sandro",
    "shelby",
    "steph",
    "travis",
    "victor",
    "zac",
    "grandpa",
    "klatt",
    "klatt2",
    "klatt3",
]
# Held out for the test split: never heard in training (men, women, the Klatt synthesiser, named voices).
TEST_VARIANTS = ["m4", "f3", "Andy", "linda", "klatt2", "quincy", "steph", "david", "Annie", "norbert"]


def corpus_folder() -> Path:
    """Where the asr corpus is synthesised: ``$APPS_HOME/data/asr/espeak-commands``."""
    return data_dir("asr") / ESPEAK_CORPUS


def espeak_corpus(**options) -> dict:
    """The ``espeak-commands`` dataset: ``build_corpus`` into ``corpus_folder()``."""
    return build_corpus(corpus_folder(), **options)


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def require_espeak() -> str:
    binary = espeak_binary()
    if binary is None:
        raise AppsError(
            "espeak-ng is not installed; it synthesises the offline speech corpus and the default voice",
            hint="install it: sudo apt-get install espeak-ng (Jetson/Ubuntu/Debian), brew install espeak-ng (macOS)",
        )
    return binary


def synthesize(
    text: str, path: str | Path, voice: str = "en-us", speed: int = 165, pitch: int = 50, gap: int = 0
) -> Path:
    """Speak ``text`` into the WAV file ``path`` (espeak-ng writes 22.05 kHz mono 16-bit)."""
    binary = require_espeak()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary,
        "-v",
        voice,
        "-s",
        str(int(speed)),
        "-p",
        str(int(pitch)),
        "-g",
        str(int(gap)),
        "-w",
        str(path),
        "--",
        text,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
        raise AppsError(
            f"espeak-ng failed for voice '{voice}': {done.stderr.strip() or 'no audio written'}",
            hint="list voices with: espeak-ng --voices",
        )
    return path


def random_text(rng: random.Random) -> str:
    """One utterance of the command/digit/sentence grammar."""
    kind = rng.random()
    if kind < 0.22:
        return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 4)))
    if kind < 0.62:
        form = rng.randrange(6)
        if form == 0:
            return f"turn {rng.choice(DIRECTIONS)}" + (
                f" {rng.choice(NUMBERS)} times" if rng.random() < 0.2 else ""
            )
        if form == 1:
            verb = rng.choice(["move", "go", "drive"])
            direction = rng.choice(["forward", "backward", "back", "ahead"])
            return f"{verb} {direction}" + (f" {rng.choice(NUMBERS)}" if rng.random() < 0.6 else "")
        if form == 2:
            return f"pick up the {rng.choice(OBJECTS)}"
        if form == 3:
            return f"rotate {rng.choice(DIRECTIONS)} {rng.choice(NUMBERS)} degrees".replace(
                " one degrees", " one degree"
            )
        return rng.choice(COMMANDS)
    return rng.choice(SENTENCES)


def corpus_texts() -> list[str]:
    """Every fixed phrase of the grammar (used to report the vocabulary and for TTS training)."""
    return DIGITS + COMMANDS + SENTENCES + [f"turn {d}" for d in DIRECTIONS]


def _voice_for(variant: str, rng: random.Random) -> str:
    return f"{rng.choice(ACCENTS)}+{variant}"


def build_corpus(
    folder: str | Path,
    train_size: int = 3000,
    test_size: int = 400,
    seed: int = 0,
    speed_range=(120, 220),
    pitch_range=(20, 80),
    workers: int = 2,
    progress=None,
) -> dict:
    """Synthesise the corpus into ``folder``: ``audio/*.wav`` (16 kHz), ``train.jsonl``, ``test.jsonl``.

    Returns ``{"train": path, "test": path, "train_voices": [...], "test_voices": [...]}``. Existing
    complete corpora with the same settings are reused.
    """
    from plugins.asr_tts.audio import load_audio, save_wav

    require_espeak()
    folder = Path(folder)
    settings = {
        "train_size": train_size,
        "test_size": test_size,
        "seed": seed,
        "speed": list(speed_range),
        "pitch": list(pitch_range),
        "test_variants": TEST_VARIANTS,
        "version": 1,
    }
    info_path = folder / "corpus.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("settings") == settings and (folder / "train.jsonl").is_file():
            return info
    train_variants = [v for v in VARIANTS if v not in TEST_VARIANTS]
    rng = random.Random(seed)
    jobs = []
    for split, size, variants in (("train", train_size, train_variants), ("test", test_size, TEST_VARIANTS)):
        for i in range(size):
            jobs.append(
                {
                    "split": split,
                    "id": f"{split}-{i:05d}",
                    "text": random_text(rng),
                    "voice": _voice_for(rng.choice(variants), rng),
                    "speed": rng.randint(*speed_range),
                    "pitch": rng.randint(*pitch_range),
                }
            )
    audio_dir = folder / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)

    def make(job):
        target = audio_dir / f"{job['id']}.wav"
        with tempfile.TemporaryDirectory() as tmp:
            raw = synthesize(job["text"], Path(tmp) / "raw.wav", job["voice"], job["speed"], job["pitch"])
            audio = load_audio(raw)
        save_wav(target, audio)
        return {
            "audio_filepath": f"audio/{target.name}",
            "text": job["text"],
            "duration": round(len(audio) / 16000, 3),
            "voice": job["voice"],
            "speed": job["speed"],
            "pitch": job["pitch"],
        }

    rows = {"train": [], "test": []}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, (job, row) in enumerate(zip(jobs, pool.map(make, jobs), strict=False)):
            rows[job["split"]].append(row)
            if progress and n % 500 == 0:
                progress(f"synthesised {n}/{len(jobs)} utterances")
    for split, items in rows.items():
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as out:
            for row in items:
                out.write(json.dumps(row) + "\n")
    info = {
        "train": str(folder / "train.jsonl"),
        "test": str(folder / "test.jsonl"),
        "train_voices": train_variants,
        "test_voices": TEST_VARIANTS,
        "accents": ACCENTS,
        "settings": settings,
        "hours": round(sum(r["duration"] for items in rows.values() for r in items) / 3600, 3),
    }
    info_path.write_text(json.dumps(info, indent=2))
    return info


def build_voice_corpus(folder: Path, voice: str, speed: int, size: int, seed: int) -> Path:
    """One voice speaking the fixed phrases of the grammar, then random commands up to ``size``:
    ``train.jsonl`` and ``test.jsonl`` (a twentieth) in ``folder``. Reused when its settings match."""
    from plugins.asr_tts.audio import load_audio, save_wav

    manifest = folder / "train.jsonl"
    stamp = folder / "corpus.json"
    settings = {"voice": voice, "speed": speed, "size": size, "seed": seed}
    if manifest.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == settings:
        return folder
    rng = random.Random(seed)
    fixed = corpus_texts()
    texts = fixed[:size] + [random_text(rng) for _ in range(max(0, size - len(fixed)))]
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        raw = synthesize(text, folder / "audio" / f"raw-{i:05d}.wav", voice, speed, 50)
        path = save_wav(folder / "audio" / f"{i:05d}.wav", load_audio(raw))
        raw.unlink()
        rows.append({"audio_filepath": f"audio/{path.name}", "text": text})
    rng.shuffle(rows)
    held = max(1, len(rows) // 20) if len(rows) > 1 else 0
    for name, part in (("test", rows[:held]), ("train", rows[held:])):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in part)
    stamp.write_text(json.dumps(settings))
    return folder
