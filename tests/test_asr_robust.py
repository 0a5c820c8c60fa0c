"""asr robustness: the augmentation (rooms, noise, microphones, speed, tempo, pitch), the multi-engine corpus
(festival beside espeak-ng, reserved voices never used), the robot-arm vocabulary and ``apps eval asr`` by
held-out source (flite clean, through sox's reverb, in flite babble). Tiny sizes: seconds in all."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

RATE = 16000
RESERVED = ("kal", "slt", "rms", "awb", "bdl", "clb", "jmk", "ksp", "arctic", "hts")
needs_flite = pytest.mark.skipif(
    shutil.which("flite") is None, reason="flite is not installed (apt-get install flite)"
)


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def peak_hz(audio: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(audio))) * RATE / len(audio))


# ---- augmentation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.9])
def test_room_impulse_decays_at_its_reverberation_time(rt60):
    from plugins.asr_tts.augment import room_impulse

    response = room_impulse(np.random.default_rng(0), rt60).astype(np.float64)
    assert np.argmax(np.abs(response)) < 0.05 * RATE and np.max(np.abs(response)) == pytest.approx(1.0)
    energy = np.cumsum(response[::-1] ** 2)[::-1]  # Schroeder's backward integration
    decay = 10 * np.log10(energy / energy[0])
    t20 = 3 * (np.argmax(decay < -25) - np.argmax(decay < -5)) / RATE  # time for 60 dB, from a 20 dB span
    assert 0.4 * rt60 < t20 < 1.3 * rt60


def test_noise_at_snr_and_every_kind():
    from plugins.asr_tts.augment import NOISE_KINDS, add_at_snr, noise

    rng = np.random.default_rng(0)
    speech = tone(300)
    others = [tone(500, 0.7), tone(700, 1.3), tone(900, 0.4)]
    for kind in NOISE_KINDS:
        sound = noise(kind, RATE, rng, others)
        assert sound.shape == (RATE,) and np.all(np.isfinite(sound)) and np.std(sound) > 0, kind
        mixed = add_at_snr(speech, sound, 10.0)
        added = mixed - speech
        assert 10 * np.log10(np.mean(speech**2) / np.mean(added**2)) == pytest.approx(10.0, abs=0.01)
    babble = noise("babble", RATE, rng, others)
    assert np.abs(np.fft.rfft(babble))[[500, 700, 900]].min() > 10 * np.abs(np.fft.rfft(babble))[300]


def test_telephone_band_and_pitch_and_tempo():
    from plugins.asr_tts import augment

    rng = np.random.default_rng(0)
    while True:  # draw until the telephone band comes up
        state = rng.bit_generator.state
        if rng.choice(["telephone", "laptop", "headset"]) == "telephone":
            rng.bit_generator.state = state
            break
    high = augment.microphone(tone(6000), rng)
    assert np.std(high[2000:]) < 0.05 * np.std(tone(6000))  # 6 kHz is gone on a telephone line
    shifted = augment.shift_pitch(tone(200), 2.0)
    assert peak_hz(shifted) == pytest.approx(200 * 2 ** (2 / 12), rel=0.03)
    assert len(shifted) == pytest.approx(RATE, rel=0.03)  # same tempo
    slower = augment.stretch(tone(200), 0.8)
    assert len(slower) == pytest.approx(RATE / 0.8, rel=0.03) and peak_hz(slower) == pytest.approx(
        200, rel=0.03
    )
    faster = augment.change_speed(tone(200), 1.1)
    assert len(faster) == pytest.approx(RATE / 1.1, rel=0.01) and peak_hz(faster) == pytest.approx(
        220, rel=0.03
    )


def test_augmenter_draws_a_new_condition_each_time():
    from plugins.asr_tts.augment import Augmenter

    augmenter = Augmenter(seed=1)
    speech = tone(250, 1.5)
    outputs = [augmenter(speech, [tone(400)]) for _ in range(20)]
    assert all(np.all(np.isfinite(o)) and np.max(np.abs(o)) <= 1.0 for o in outputs)
    assert len({round(float(np.std(o)), 5) for o in outputs}) == 20
    assert len({len(o) for o in outputs}) > 3  # speed, tempo and room tails change the length


def test_dataset_with_augmentation(tmp_path):
    from plugins.asr_tts.augment import AugmentSettings
    from plugins.asr_tts.data import SpeechDataset, Utterance

    rows = []
    for i, freq in enumerate((200, 300, 400)):
        sf.write(tmp_path / f"{i}.wav", tone(freq), RATE)
        rows.append(Utterance(str(tmp_path / f"{i}.wav"), "go"))
    data = SpeechDataset(rows, augment=AugmentSettings(noise_prob=1.0))
    items = [data[i % 3] for i in range(9)]
    assert all(item["audio"].dtype == np.float32 and item["text"] == "go" for item in items)
    assert not np.array_equal(items[0]["audio"], items[3]["audio"])


# ---- corpus and vocabulary ---------------------------------------------------------------------------
def test_training_voices_exclude_the_reserved_speakers():
    from plugins.asr_tts.accents import ACCENT_VOICES
    from plugins.asr_tts.corpus import FESTIVAL_VOICES, VARIANTS

    for voice in FESTIVAL_VOICES + VARIANTS + list(ACCENT_VOICES):
        assert not any(name in voice.lower() for name in RESERVED), voice


def test_arm_instructions_and_game_moves_are_spoken():
    import random

    from plugins.asr_tts.corpus import ARM_INSTRUCTIONS, corpus_texts, random_text

    assert len(ARM_INSTRUCTIONS) == 10 and "pick up the puck and place it at the goal" in ARM_INSTRUCTIONS
    texts = {random_text(random.Random(seed)) for seed in range(3000)}
    assert set(ARM_INSTRUCTIONS) <= texts
    assert {"turn left", "move forward", "move back", "pause"} <= set(corpus_texts())


@pytest.mark.skipif(shutil.which("festival") is None, reason="festival is not installed")
def test_corpus_with_festival_and_a_festival_validation_set(tmp_path):
    from plugins.asr_tts.corpus import build_corpus, festival_voices
    from plugins.asr_tts.data import read_manifest
    from plugins.asr_tts.training import engine_of

    if not festival_voices():
        pytest.skip("no training voice for festival (apt-get install festvox-kdlpc16k)")
    info = build_corpus(tmp_path, train_size=6, test_size=2, festival_share=0.5, validation_size=2)
    train, _ = read_manifest(tmp_path / "train.jsonl")
    valid, _ = read_manifest(tmp_path / "valid-festival.jsonl")
    assert sorted(engine_of(r) for r in train) == ["espeak"] * 3 + ["festival"] * 3
    assert len(valid) == 2 and {engine_of(r) for r in valid} == {"festival"}
    for row in train + valid:
        audio, rate = sf.read(row.audio_filepath)
        assert rate == RATE and len(audio) > 0.3 * RATE
    assert info["validation"].endswith("valid-festival.jsonl")
    assert build_corpus(tmp_path, train_size=6, test_size=2, festival_share=0.5, validation_size=2) == info


def test_every_english_phone_has_a_phone_in_each_accent():
    from plugins.asr_tts.accents import ACCENT_VOICES, ENGLISH_PHONES, PHONE_MAPS, accented_segments

    assert {language for language, _ in ACCENT_VOICES.values()} == set(PHONE_MAPS)
    for language, mapping in PHONE_MAPS.items():
        assert set(mapping) == set(ENGLISH_PHONES), language
    plan = [("pau", 0.2, []), ("th", 0.1, []), ("ay", 0.2, [(0.05, 120.0), (0.15, 110.0)]), ("hh", 0.05, [])]
    assert (
        accented_segments(plan, "italian")
        == "(# 0.200) (t 0.100) (a 0.100 (0.050 120.0)) (i 0.100 (0.050 110.0))"
    )
    assert accented_segments(plan, "czech").endswith("(h 0.050)")  # Czech keeps the h that Italian drops


@pytest.mark.skipif(shutil.which("festival") is None, reason="festival is not installed")
def test_corpus_with_accented_voices_keeps_the_rest_of_the_corpus(tmp_path):
    from plugins.asr_tts.accents import accent_voices
    from plugins.asr_tts.corpus import build_corpus
    from plugins.asr_tts.data import read_manifest
    from plugins.asr_tts.training import engine_of

    voices = accent_voices()
    if not voices:
        pytest.skip("no accent voice (apt-get install festvox-kdlpc16k festvox-italp16k festvox-czech-dita)")
    plain = build_corpus(tmp_path / "plain", train_size=4, test_size=1, festival_share=0.5, validation_size=1)
    info = build_corpus(
        tmp_path / "accents", train_size=4, test_size=1, festival_share=0.5, validation_size=1, accent_size=4
    )
    train, _ = read_manifest(tmp_path / "accents" / "train.jsonl")
    assert [engine_of(r) for r in train] == ["espeak"] * 2 + ["festival"] * 2 + ["accent"] * 4
    assert {r.voice for r in train[4:]} <= {f"accent+{v}" for v in voices}
    for row in train[4:]:
        audio, rate = sf.read(row.audio_filepath)
        assert rate == RATE and len(audio) > 0.3 * RATE and np.std(audio) > 0.01
    for split in ("train", "test", "valid-festival"):  # drawn before the accents: the same without them
        lines = (tmp_path / "plain" / f"{split}.jsonl").read_text().splitlines()
        assert (tmp_path / "accents" / f"{split}.jsonl").read_text().splitlines()[: len(lines)] == lines
    assert plain["settings"].items() <= info["settings"].items()


def test_festival_missing_degrades_to_espeak(tmp_path, monkeypatch, capsys):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from plugins.asr_tts import corpus

    monkeypatch.setattr(corpus, "festival_voices", lambda: [])
    info = corpus.build_corpus(tmp_path, train_size=3, test_size=1, festival_share=0.5, validation_size=2)
    assert info["validation"] is None and "festival" in capsys.readouterr().err
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 3


# ---- evaluation by source ----------------------------------------------------------------------------
@needs_flite
def test_flite_sets_clean_reverb_babble(tmp_path):
    from plugins.asr_tts.eval_sources import FLITE_SOURCES, SETTINGS, build_flite_sets

    sets = build_flite_sets(tmp_path, {**SETTINGS, "voices": ["slt", "rms"], "per_voice": 1})
    assert set(sets) == set(FLITE_SOURCES)
    manifests = {
        name: [json.loads(line) for line in open(path)]
        for name, path in sets.items()
        if not path.startswith("skipped")
    }
    clean = manifests["flite clean"]
    assert [r["voice"] for r in clean] == ["flite+slt", "flite+rms"]
    for name, rows in manifests.items():
        assert [r["text"] for r in rows] == [r["text"] for r in clean], name
    speech, _ = sf.read(tmp_path / clean[0]["audio_filepath"])
    noisy, _ = sf.read(tmp_path / manifests["flite + 10 dB flite babble"][0]["audio_filepath"])
    snr = 10 * np.log10(np.mean(speech**2) / np.mean((noisy[: len(speech)] - speech) ** 2))
    assert snr == pytest.approx(10.0, abs=0.5)


@needs_flite
def test_eval_reports_every_source_by_name(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from core.cli import cli
    from plugins.asr_tts import eval_sources
    from plugins.asr_tts.asr_model import CharVocab, build_model

    monkeypatch.setenv("APPS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(
        eval_sources, "SETTINGS", {**eval_sources.SETTINGS, "voices": ["slt"], "per_voice": 2}
    )
    corpus = tmp_path / "home" / "data" / "asr" / "espeak-commands"
    corpus.mkdir(parents=True)
    sf.write(corpus / "a.wav", tone(300), RATE)
    (corpus / "test.jsonl").write_text(
        json.dumps({"audio_filepath": "a.wav", "text": "go", "voice": "en-us+m4"}) + "\n"
    )
    vocab = CharVocab()
    model = build_model(len(vocab), vocab.blank_id, 32, 1, 2, 2, 9, 4, 8, 0.0)
    model.save_pretrained(tmp_path / "model")
    vocab.save(tmp_path / "model")
    result = CliRunner().invoke(cli, ["eval", "asr", "--model", str(tmp_path / "model"), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    sources = metrics["sources"]
    assert list(sources)[:3] == ["espeak-ng held-out voices", "flite clean", "flite + sox reverb"]
    assert "flite + 10 dB flite babble" in sources
    assert (
        sources["espeak-ng held-out voices"]["utterances"] == 1 and sources["flite clean"]["utterances"] == 2
    )
    assert all(0 <= s["wer"] and 0 <= s["cer"] for s in sources.values() if "skipped" not in s)
    table = CliRunner().invoke(cli, ["eval", "asr", "--model", str(tmp_path / "model")])
    assert "flite + 10 dB flite babble" in table.output and "WER" in table.output
