"""The offline speech corpus: digits, robot commands, robot-arm instructions and short sentences, spoken
by several synthesisers.

- espeak-ng: each utterance by a *voice* (a variant such as ``m3``, ``f2`` or ``klatt``, with an accent
  such as ``en-us`` or ``en-gb-scotland``) at a random speed and pitch. Whole voices are held out for the
  test split, so the word error rate measures how the model copes with speakers it never heard.
- festival (when installed) with the English voices Debian ships that are not reserved for evaluation
  (``FESTIVAL_VOICES``), at a random duration stretch, pitch and pitch range, synthesised in batches (one
  process speaks hundreds of utterances: starting festival costs a quarter of a second).
- festival's Italian, Finnish and Czech voices speaking English with an accent (accents.py), when installed.
Reserved for evaluation, never synthesised here: flite's voices and every voice of the CMU ARCTIC
speakers and of Kal in any engine (see ``evaluate.py``).
Manifests are NeMo-style JSONL: ``{"audio_filepath", "text", "duration", "voice", "engine"}``.

The tts app trains on a second, smaller corpus: one voice speaking the grammar (``build_voice_corpus``).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core import AppsError, data_dir
from plugins.asr_tts.accents import ACCENT_VOICES, accent_batch, accent_voices
from plugins.asr_tts.festival import PROSODY, installed_voices, run_script, scheme_string, talker
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

# The ten robot-arm instructions of the control app, word for word (plugins never import each other):
# a spoken instruction reaches the arm only if these words are in the lexicon.
ARM_INSTRUCTIONS = [
    "reach to the goal",
    "push the puck to the goal",
    "pick up the puck and place it at the goal",
    "open the door",
    "open the drawer",
    "close the drawer",
    "press the button from the top",
    "insert the peg from the side",
    "open the window",
    "close the window",
]
ARM_SHORT = ["press the button", "pick up the puck", "insert the peg", "push the puck", "reach the goal"]
GAME_MOVES = ["turn left", "turn right", "move forward", "move back", "stop", "pause", "go"]

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
    if kind < 0.58:
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
    if kind < 0.74:
        return rng.choice(ARM_INSTRUCTIONS + ARM_SHORT + GAME_MOVES)
    if kind < 0.80:  # words of the grammar in any order: the model must hear words, not learn phrases
        words = " ".join(corpus_texts()).split()
        return " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
    return rng.choice(SENTENCES)


def corpus_texts() -> list[str]:
    """Every fixed phrase of the grammar (used to report the vocabulary and for TTS training)."""
    return (
        DIGITS
        + COMMANDS
        + SENTENCES
        + ARM_INSTRUCTIONS
        + ARM_SHORT
        + GAME_MOVES
        + [f"turn {d}" for d in DIRECTIONS]
    )


def _voice_for(variant: str, rng: random.Random) -> str:
    return f"{rng.choice(ACCENTS)}+{variant}"


# festival's English voices in Debian that are free to train on (kal and the ARCTIC/HTS voices are reserved
# for evaluation): apt-get install festival festvox-kdlpc16k
FESTIVAL_VOICES = ["ked_diphone"]


def festival_voices() -> list[str]:
    """The training voices of ``FESTIVAL_VOICES`` that are installed ([] without festival)."""
    return installed_voices(FESTIVAL_VOICES)


def festival_batch(jobs: list[dict], folder: Path, timeout: float = 900) -> None:
    """Speak every job ``{"text", "voice", "stretch", "f0", "f0_std", "id"}`` into ``folder/ID.wav`` with
    one festival process (a Scheme script of ``say`` calls)."""
    lines = [
        "(define (say voice path text stretch f0 std)",
        "  (eval (list voice))",
        *PROSODY,
        "  (utt.save.wave (utt.synth (eval (list 'Utterance 'Text text))) path 'riff))",
    ]
    for job in jobs:
        path = scheme_string(str(folder / f"{job['id']}.wav"))
        lines.append(f"(say 'voice_{job['voice']} {path} {talker(job)})")
    wavs = [folder / f"{job['id']}.wav" for job in jobs]
    run_script(lines, folder / f"batch-{jobs[0]['id']}.scm", timeout, makes=wavs)


def _job(
    split: str, number: int, engine: str, rng: random.Random, variants, speed_range, pitch_range
) -> dict:
    job = {"split": split, "id": f"{split}-{number:05d}", "text": random_text(rng), "engine": engine}
    if engine == "espeak":
        job.update(
            voice=_voice_for(rng.choice(variants), rng),
            speed=rng.randint(*speed_range),
            pitch=rng.randint(*pitch_range),
        )
    else:  # festival: a slower or faster talker, a lower or higher and flatter or livelier voice
        voice = rng.choice(variants)
        low, high = ACCENT_VOICES[voice][1] if engine == "accent" else (70, 190)
        job.update(
            voice=voice,
            stretch=round(rng.uniform(0.8, 1.35), 3),
            f0=rng.randint(low, high),
            f0_std=rng.randint(5, 40),
        )
    return job


def build_corpus(
    folder: str | Path,
    train_size: int = 3000,
    test_size: int = 400,
    seed: int = 0,
    speed_range=(110, 230),
    pitch_range=(15, 85),
    workers: int = 2,
    progress=None,
    festival_share: float = 0.0,
    validation_size: int = 0,
    accent_size: int = 0,
) -> dict:
    """Synthesise the corpus into ``folder``: ``audio/*.wav`` (16 kHz), ``train.jsonl``, ``test.jsonl``
    (espeak-ng's held-out voices) and, with festival, ``valid-festival.jsonl``.

    ``festival_share`` of the training utterances are spoken by festival when it is installed (else all by
    espeak-ng, with a warning); ``validation_size`` more festival utterances form a separate validation set
    (for choosing settings with festival left out of training); ``accent_size`` more training utterances are
    spoken by festival's non-English voices with an accent (accents.py), when installed. Returns
    ``{"train": path, "test": path, "train_voices": [...], "test_voices": [...], ...}``. Complete corpora
    with the same settings are reused.
    """
    from plugins.asr_tts.audio import load_audio, save_wav

    require_espeak()
    folder = Path(folder)
    fest_voices = festival_voices() if festival_share or validation_size else []
    if (festival_share or validation_size) and not fest_voices:
        print(
            "warning: festival or its voice festvox-kdlpc16k is not installed: the corpus is espeak-ng "
            "only (apt-get install festival festvox-kdlpc16k)",
            file=sys.stderr,
        )
    settings = {
        "train_size": train_size,
        "test_size": test_size,
        "seed": seed,
        "speed": list(speed_range),
        "pitch": list(pitch_range),
        "test_variants": TEST_VARIANTS,
        "festival_voices": fest_voices,
        "festival_share": festival_share if fest_voices else 0.0,
        "validation_size": validation_size if fest_voices else 0,
        "version": 2,
    }
    accents = accent_voices() if accent_size else []
    if accent_size and not accents:
        print(
            "warning: festival's Italian, Finnish or Czech voices are not installed: no accented English "
            "(apt-get install festvox-italp16k festvox-czech-dita ...)",
            file=sys.stderr,
        )
    if accents:  # only then: corpora built before accents existed stay valid
        settings.update(accent_voices=accents, accent_size=accent_size)
    info_path = folder / "corpus.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("settings") == settings and (folder / "train.jsonl").is_file():
            return info
    train_variants = [v for v in VARIANTS if v not in TEST_VARIANTS]
    rng = random.Random(seed)
    jobs = []
    plan = [("train", train_size, "espeak", train_variants), ("test", test_size, "espeak", TEST_VARIANTS)]
    if fest_voices:
        fest_train = int(round(train_size * festival_share))
        plan[0] = ("train", train_size - fest_train, "espeak", train_variants)
        plan += [
            ("train", fest_train, "festival", fest_voices),
            ("valid-festival", settings["validation_size"], "festival", fest_voices),
        ]
    if accents:  # drawn last: the rest of the corpus is the same with or without them
        plan.append(("train", accent_size, "accent", accents))
    counts: dict[str, int] = {}
    for split, size, engine, variants in plan:
        for _ in range(size):
            counts[split] = counts.get(split, 0) + 1
            jobs.append(_job(split, counts[split] - 1, engine, rng, variants, speed_range, pitch_range))
    audio_dir = folder / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)

    def make(job):
        target = audio_dir / f"{job['id']}.wav"
        with tempfile.TemporaryDirectory() as tmp:
            raw = synthesize(job["text"], Path(tmp) / "raw.wav", job["voice"], job["speed"], job["pitch"])
            save_wav(target, load_audio(raw))
        return job

    def make_festival(batch):
        with tempfile.TemporaryDirectory() as tmp:
            (accent_batch if batch[0]["engine"] == "accent" else festival_batch)(batch, Path(tmp))
            for job in batch:
                save_wav(audio_dir / f"{job['id']}.wav", load_audio(Path(tmp) / f"{job['id']}.wav"))
        return batch

    espeak_jobs = [job for job in jobs if job["engine"] == "espeak"]
    fest_jobs = [job for job in jobs if job["engine"] == "festival"]
    accent_jobs = [job for job in jobs if job["engine"] == "accent"]
    batches = [part[i : i + 200] for part in (fest_jobs, accent_jobs) for i in range(0, len(part), 200)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for n, _ in enumerate(pool.map(make, espeak_jobs)):
            if progress and n % 500 == 0:
                progress(f"espeak-ng: synthesised {n}/{len(espeak_jobs)} utterances")
        for n, _ in enumerate(pool.map(make_festival, batches)):
            if progress:
                progress(f"festival: synthesised batch {n + 1}/{len(batches)} (up to 200 utterances each)")
    rows: dict[str, list] = {split: [] for split in counts}
    for job in jobs:
        duration = sf_duration(audio_dir / f"{job['id']}.wav")
        keep = {k: v for k, v in job.items() if k not in ("split", "id", "text", "voice")}
        voice = job["voice"] if job["engine"] == "espeak" else f"{job['engine']}+{job['voice']}"
        rows[job["split"]].append(
            {
                "audio_filepath": f"audio/{job['id']}.wav",
                "text": job["text"],
                "duration": duration,
                "voice": voice,
                **keep,
            }
        )
    for split, items in rows.items():
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as out:
            for row in items:
                out.write(json.dumps(row) + "\n")
    info = {
        "train": str(folder / "train.jsonl"),
        "test": str(folder / "test.jsonl"),
        "validation": str(folder / "valid-festival.jsonl") if "valid-festival" in rows else None,
        "train_voices": train_variants
        + [f"festival+{v}" for v in fest_voices]
        + [f"accent+{v}" for v in accents],
        "test_voices": TEST_VARIANTS,
        "accents": ACCENTS,
        "settings": settings,
        "hours": round(sum(r["duration"] for items in rows.values() for r in items) / 3600, 3),
    }
    info_path.write_text(json.dumps(info, indent=2))
    return info


def sf_duration(path: Path) -> float:
    import soundfile as sf

    return round(sf.info(str(path)).duration, 3)


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
