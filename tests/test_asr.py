"""asr app: audio I/O, manifests, vocabulary checks, WER, espeak-ng corpus, a tiny Parakeet trained through
the core engine, decoding, the CLI and the microphone error path. Tiny sizes: the whole file runs in ~1 min."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import AppsError

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)


# ---- audio I/O ---------------------------------------------------------------------------------------
def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    from plugins.asr_tts.audio import load_audio

    rate = 44100
    t = np.arange(rate) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    sf.write(tmp_path / "stereo.wav", stereo, rate)
    audio = load_audio(tmp_path / "stereo.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) <= 1
    assert 0.2 < np.abs(audio).max() < 0.3  # average of the two channels: half the amplitude
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 3  # the tone survives resampling


def test_corrupt_and_missing_audio_give_clear_errors(tmp_path):
    from plugins.asr_tts.audio import load_audio

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AppsError, match="cannot read audio file .*broken.wav"):
        load_audio(bad)
    with pytest.raises(AppsError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_silence_and_long_audio_splitting():
    from plugins.asr_tts.audio import has_speech, split_on_silence

    assert not has_speech(np.zeros(16000, np.float32))
    rng = np.random.default_rng(0)
    loud = (0.3 * rng.standard_normal(16000 * 50)).astype(np.float32)
    loud[16000 * 15 : 16000 * 15 + 4800] = 0.0  # a pause the splitter should use
    spans = split_on_silence(loud, max_s=20.0)
    assert spans[0][0] == 0 and spans[-1][1] == len(loud)
    assert all(end - start <= 20 * 16000 for start, end in spans)
    assert 15 * 16000 <= spans[0][1] <= 15 * 16000 + 4800


# ---- manifests and vocabulary ------------------------------------------------------------------------
def test_manifest_with_missing_file_reports_file_and_line(tmp_path, capsys):
    from plugins.asr_tts.data import read_manifest, report_skipped

    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"audio_filepath": "a.wav", "text": "go", "duration": 0.1})
        + "\n"
        + json.dumps({"audio_filepath": "gone.wav", "text": "stop", "duration": 1.0})
        + "\n"
        + "{not json\n"
    )
    rows, skipped = read_manifest(manifest)
    assert [r.text for r in rows] == ["go"]
    assert [s.where for s in skipped] == [f"{manifest}:2", f"{manifest}:3"]
    assert "missing audio file" in skipped[0].reason
    report_skipped(skipped, len(rows))
    err = capsys.readouterr().err
    assert "skipped 2 of 3" in err and f"{manifest}:2" in err


def test_librispeech_layout(tmp_path):
    from plugins.asr_tts.data import read_librispeech

    chapter = tmp_path / "test-clean" / "61" / "70968"
    chapter.mkdir(parents=True)
    sf.write(chapter / "61-70968-0000.flac", np.zeros(1600, np.float32), 16000)
    (chapter / "61-70968.trans.txt").write_text(
        "61-70968-0000 HE BEGAN A CONFUSED COMPLAINT\n61-70968-0001 MISSING\n"
    )
    rows, skipped = read_librispeech(tmp_path)
    assert len(rows) == 1 and rows[0].text.startswith("HE BEGAN") and rows[0].voice == "61"
    assert skipped[0].where.endswith("61-70968.trans.txt:2")


def test_characters_outside_the_vocabulary_are_reported(capsys):
    from plugins.asr_tts.asr_model import CharVocab
    from plugins.asr_tts.data import Utterance
    from plugins.asr_tts.training import filter_vocabulary

    rows = [
        Utterance("a.wav", "Turn LEFT!", where="m.jsonl:1"),
        Utterance("b.wav", "café 42", where="m.jsonl:2"),
    ]
    kept = filter_vocabulary(rows, CharVocab(), "drop", "training")
    assert [r.where for r in kept] == ["m.jsonl:1"]
    err = capsys.readouterr().err
    assert "m.jsonl:2" in err and "é" in err and "4" in err
    with pytest.raises(AppsError, match="outside the vocabulary"):
        filter_vocabulary(rows, CharVocab(), "error", "training")


# ---- decoding and metrics ----------------------------------------------------------------------------
def test_greedy_ctc_and_error_rates():
    from plugins.asr_tts.asr_model import CharVocab, error_rates, greedy_ids

    vocab = CharVocab()
    frames = [
        0,
        vocab.index["g"],
        vocab.index["g"],
        0,
        vocab.index["o"],
        vocab.index["o"],
        0,
        vocab.index["o"],
    ]
    assert vocab.decode_ids(greedy_ids(frames, 0)) == "goo"
    rates = error_rates(["turn left", "stop"], ["turn right", "stop"])
    assert rates["wer"] == pytest.approx(1 / 3)
    assert 0 < rates["cer"] < rates["wer"]


def _log_probs(vocab, frames: list[dict[str, float]]) -> np.ndarray:
    """CTC log-probabilities: each frame gives probabilities to a few characters ("" = blank), the rest share
    what is left."""
    out = np.full((len(frames), len(vocab)), 1e-4)
    for t, frame in enumerate(frames):
        for char, p in frame.items():
            out[t, vocab.index[char] if char else vocab.blank_id] = p
    return np.log(out / out.sum(-1, keepdims=True))


def test_lexicon_decoding_spells_only_known_words():
    from plugins.asr_tts.asr_model import CharVocab, greedy_ids
    from plugins.asr_tts.lexicon import Lexicon, lexicon_beam_search

    vocab = CharVocab()
    lexicon = Lexicon.from_texts(["Turn left!", "turn right", "stop"])
    assert lexicon.words == ["left", "right", "stop", "turn"]
    # "turn lefd": the last frame prefers the misspelling, the lexicon only allows "left"
    spelled = [{c: 0.9} for c in "turn lef"] + [{"d": 0.6, "t": 0.4}, {"": 0.9}]
    log_probs = _log_probs(vocab, spelled)
    assert vocab.decode_ids(greedy_ids(log_probs.argmax(-1), 0)) == "turn lefd"
    assert lexicon_beam_search(log_probs, vocab.tokens, 0, lexicon) == "turn left"
    # a doubled letter needs a blank between its two frames; "stop" survives repeats and blanks around it
    stop = [{"": 0.9}, {"s": 0.9}, {"s": 0.9}, {"t": 0.9}, {"": 0.9}, {"o": 0.9}, {"p": 0.9}, {"p": 0.9}]
    assert lexicon_beam_search(_log_probs(vocab, stop), vocab.tokens, 0, lexicon) == "stop"
    assert lexicon_beam_search(_log_probs(vocab, [{"": 0.9}] * 4), vocab.tokens, 0, lexicon) == ""


def test_word_bigrams_weigh_ambiguous_words_and_still_allow_new_orders(tmp_path):
    from plugins.asr_tts.asr_model import CharVocab
    from plugins.asr_tts.lexicon import Lexicon, lexicon_beam_search

    vocab = CharVocab()
    lexicon = Lexicon.from_texts(["pick up the puck", "pick up the box", "pack the box"])
    assert lexicon.bigrams[("the", "puck")] == 1 and lexicon.bigrams[("<s>", "pick")] == 2
    assert lexicon.log_prob("the", "puck") > lexicon.log_prob("the", "pack") > float("-inf")
    # "pick up the p?ck": the sound leans to "pack", which never follows "the" in the transcripts
    frames = [{c: 0.9} for c in "pick up the p"] + [{"a": 0.5, "u": 0.45}, {"c": 0.9}, {"": 0.9}, {"k": 0.9}]
    log_probs = _log_probs(vocab, frames)
    assert lexicon_beam_search(log_probs, vocab.tokens, 0, lexicon, lm_weight=0) == "pick up the pack"
    assert lexicon_beam_search(log_probs, vocab.tokens, 0, lexicon) == "pick up the puck"
    # a clearly spoken order the transcripts never had is still heard
    clear = _log_probs(vocab, [{c: 0.95} for c in "box the pick"])
    assert lexicon_beam_search(clear, vocab.tokens, 0, lexicon) == "box the pick"
    lexicon.save(tmp_path)
    assert Lexicon.load(tmp_path).bigrams == lexicon.bigrams
    assert Lexicon.load(tmp_path, bigrams=False).bigrams == {}


def test_speed_perturbation_scales_length_and_pitch():
    from plugins.asr_tts.audio import change_speed

    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 400 * t).astype(np.float32)
    faster = change_speed(tone, 1.1)
    assert abs(len(faster) - 16000 / 1.1) < 200
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.argmax(spectrum) * 16000 / len(faster) - 440) < 8  # 400 Hz played 1.1x faster
    assert change_speed(tone, 1.0) is tone


# ---- espeak-ng corpus, tiny model through the engine, CLI ----------------------------------------------
def train_tiny_asr(root: Path) -> dict:
    """A tiny espeak-ng corpus under ``root/home`` and a 1-layer Parakeet trained for a few steps."""
    from core import run_training
    from core.recipes import load_recipe
    from plugins.asr_tts.app import AsrApp
    from plugins.asr_tts.recipe import AsrRecipe

    saved = {k: os.environ.get(k) for k in ("APPS_HOME", "HF_HUB_OFFLINE")}
    os.environ.update(APPS_HOME=str(root / "home"), HF_HUB_OFFLINE="1")
    try:
        recipe = load_recipe(
            AsrRecipe,
            None,
            {
                "corpus_train_size": 12,
                "corpus_test_size": 4,
                "hidden_size": 32,
                "num_layers": 1,
                "num_heads": 2,
                "subsampling_channels": 8,
                "batch_size": 4,
                "max_steps": 3,
                "logging_steps": 1,
                "eval_steps": 3,
                "save_steps": 100,
                "learning_rate": 1e-3,
                "precision": "fp32",
            },
        )
        run_dir = run_training(AsrApp(), recipe, run_dir=root / "run", recipe_name="tiny")
        return {
            "run": run_dir,
            "home": root / "home",
            "corpus": root / "home" / "data" / "asr" / "espeak-commands",
        }
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return train_tiny_asr(tmp_path_factory.mktemp("asr"))


@needs_espeak
def test_corpus_holds_out_whole_voices(tiny_run):
    from plugins.asr_tts.data import read_manifest

    train, _ = read_manifest(tiny_run["corpus"] / "train.jsonl")
    test, _ = read_manifest(tiny_run["corpus"] / "test.jsonl")
    assert len(train) == 12 and len(test) == 4
    train_voices = {r.voice.split("+")[1] for r in train}
    test_voices = {r.voice.split("+")[1] for r in test}
    assert not train_voices & test_voices
    info = sf.info(train[0].audio_filepath)
    assert info.samplerate == 16000 and info.channels == 1 and info.duration > 0.2


@needs_espeak
def test_tiny_parakeet_trains_through_the_engine_and_decodes(tiny_run):
    from core import load_run
    from plugins.asr_tts.asr_model import Transcriber
    from plugins.asr_tts.audio import load_audio

    run = tiny_run["run"]
    info = load_run(run)
    assert info["status"] == "complete" and info["model_class"] == "ParakeetForCTC"
    assert (run / "vocab.json").is_file() and (run / "config.json").is_file()
    assert "turn" in (run / "lexicon.txt").read_text().split()  # the words of the training transcripts
    log = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    assert any("eval_wer" in row for row in log)
    transcriber = Transcriber.load(run, "cpu")
    wave = load_audio(tiny_run["corpus"] / "audio" / "test-00000.wav")
    assert transcriber.decoder == "lm" and (run / "word_bigrams.txt").is_file()
    result = transcriber.transcribe([wave, np.zeros(8000, np.float32)])
    assert result[0]["speech"] and isinstance(result[0]["text"], str) and result[0]["seconds"] > 0
    assert set(result[0]["text"].split()) <= set(transcriber.lexicon.words)
    assert result[1] == {"text": "", "speech": False, "duration_s": 0.5, "chunks": 0}
    assert Transcriber.load(run, "cpu", decoder="greedy").decoder == "greedy"
    assert Transcriber.load(run, "cpu", decoder="lexicon").decoder == "lexicon"
    (run / "word_bigrams.txt").rename(run / "word_bigrams.off")
    try:
        with pytest.raises(AppsError, match="no word_bigrams.txt"):
            Transcriber.load(run, "cpu", decoder="lm")
        assert Transcriber.load(run, "cpu").decoder == "lexicon"  # runs of earlier versions
    finally:
        (run / "word_bigrams.off").rename(run / "word_bigrams.txt")
    (run / "lexicon.txt").rename(run / "lexicon.off")
    try:
        with pytest.raises(AppsError, match="no lexicon.txt"):
            Transcriber.load(run, "cpu", decoder="lexicon")
        assert Transcriber.load(run, "cpu").decoder == "greedy"
    finally:
        (run / "lexicon.off").rename(run / "lexicon.txt")


@needs_espeak
def test_cli_run_asr_json_and_silence(tiny_run, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from core.cli import cli

    monkeypatch.setenv("APPS_HOME", str(tiny_run["home"]))
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    speech = tiny_run["corpus"] / "audio" / "test-00001.wav"
    result = CliRunner().invoke(
        cli, ["run", "asr", str(speech), str(silent), "--json", "--model", str(tiny_run["run"])]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert lines[0]["file"] == str(speech) and lines[0]["speech"] is True and "rtf" in lines[0]
    assert lines[1]["message"] == "no speech detected"
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all")
    result = CliRunner().invoke(cli, ["run", "asr", str(broken), "--model", str(tiny_run["run"])])
    assert isinstance(result.exception, AppsError) and "cannot read audio file" in str(result.exception)


def test_missing_microphone_library_is_a_clear_error(monkeypatch):
    import sys

    from plugins.asr_tts.stream import microphone_blocks

    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AppsError, match="sounddevice"):
        next(microphone_blocks())


def test_vad_segments_utterances_with_partials():
    from plugins.asr_tts.stream import segment_stream

    rng = np.random.default_rng(1)
    quiet = [np.zeros(1600, np.float32)] * 5
    loud = [(0.2 * rng.standard_normal(1600)).astype(np.float32) for _ in range(12)]
    events = list(segment_stream(quiet + loud + quiet + loud[:4] + quiet))
    finals = [audio for kind, audio in events if kind == "final"]
    assert len(finals) == 2
    assert any(kind == "partial" for kind, _ in events)
    assert 1.2 <= len(finals[0]) / 16000 <= 1.8  # 1.2 s of speech + pre-roll + the closing pause


# ---- device profile, offline default ------------------------------------------------------------------
def test_profile_settings_size_the_batch_on_a_jetson():
    from core.profiles import Profile
    from plugins.asr_tts.app import AsrApp

    def board(accelerator, memory_gb):
        return Profile("p", "", accelerator, memory_gb, 10.0, 100.0)

    assert AsrApp.profile_settings(board("jetson", 8)) == {"batch_size": 8, "precision": "fp16"}
    assert AsrApp.profile_settings(board("jetson", 16)) == {"batch_size": 16, "precision": "fp16"}
    assert AsrApp.profile_settings(board("jetson", 64)) == {"batch_size": 32, "precision": "fp16"}
    assert AsrApp.profile_settings(board("cuda", 80)) == {}


def test_missing_default_says_apps_prepare(tmp_path, monkeypatch):
    from plugins.asr_tts.app import AsrApp

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    with pytest.raises(AppsError) as caught:
        AsrApp().load()
    assert "apps prepare asr" in caught.value.hint


def test_prepare_builds_the_default_recipe_through_the_core(tmp_path, monkeypatch):
    """'apps prepare asr' hands the default recipe and the overrides to core.build_default (which stages
    the build, so an interrupted prepare keeps the old default), and does nothing when it is built."""
    from plugins.asr_tts import prepare
    from plugins.asr_tts.app import AsrApp

    monkeypatch.setenv("APPS_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(
        prepare, "build_default", lambda app, recipe, **kw: calls.append((recipe, kw)) or tmp_path
    )
    prepare.prepare_asr(AsrApp(), overrides=("max_steps=5",))
    assert calls == [("conformer-ctc-robust", {"overrides": ["max_steps=5"], "force": False})]
    monkeypatch.setattr(prepare, "default_is_built", lambda name: True)
    assert "is ready" in prepare.prepare_asr(AsrApp())
    assert len(calls) == 1
