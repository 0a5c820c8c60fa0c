"""tts and assistant apps: espeak-ng writes valid WAVs (English and Mandarin), the VITS engine fails clearly
offline, a tiny Tacotron 2 trains through the core engine and speaks, the assistant chains the apps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from core.cli import cli
from core.errors import AppsError

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)


@pytest.fixture
def speech_home(tmp_path, monkeypatch):
    monkeypatch.setenv("APPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("APPS_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "home"


@needs_espeak
def test_espeak_writes_a_valid_wav(tmp_path, speech_home):
    out = tmp_path / "turn.wav"
    result = CliRunner().invoke(cli, ["run", "tts", "turn", "left", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output.strip().splitlines()[-1])
    assert info["engine"] == "espeak" and info["text"] == "turn left"
    audio, rate = sf.read(out)
    assert rate == 22050 and audio.ndim == 1
    assert 0.4 < len(audio) / rate < 3.0 and np.abs(audio).max() > 0.05


@needs_espeak
def test_mandarin_text_uses_the_cmn_voice(tmp_path):
    from plugins.asr_tts.tts import EspeakEngine, speak

    engine = EspeakEngine()
    assert engine.voice_for("你好") == "cmn" and engine.voice_for("hello") == "en-us"
    result = speak(engine, "你好，机器人")
    assert result["duration_s"] > 0.5 and result["audio"].std() > 0.01


def test_vits_offline_is_a_clear_error(speech_home, monkeypatch):
    from plugins.asr_tts.tts import VitsEngine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AppsError, match="cannot load the VITS model"):
        VitsEngine("facebook/mms-tts-eng", "cpu")


def test_empty_text_and_unknown_engine(speech_home):
    result = CliRunner().invoke(cli, ["run", "tts", "   "])
    assert isinstance(result.exception, AppsError) and "nothing to say" in str(result.exception)
    from plugins.asr_tts.tts import make_engine

    with pytest.raises(AppsError, match="unknown TTS engine"):
        make_engine("festival")


@needs_espeak
def test_guided_attention_loss_prefers_the_diagonal():
    import torch

    from plugins.asr_tts.tacotron import guided_attention_loss

    frames, chars = 40, 10
    diagonal = torch.zeros(1, frames, chars)
    diagonal[0, torch.arange(frames), torch.arange(frames) * chars // frames] = 1.0
    backwards = diagonal.flip(2)
    lengths = (torch.tensor([chars]), torch.tensor([frames]))
    assert guided_attention_loss(diagonal, *lengths) < 0.05
    assert guided_attention_loss(backwards, *lengths) > 0.5
    # padded frames and characters do not count
    padded = torch.nn.functional.pad(diagonal, (0, 5, 0, 20), value=1.0)
    assert guided_attention_loss(padded, *lengths) == pytest.approx(guided_attention_loss(diagonal, *lengths))


def test_tiny_tacotron2_trains_through_the_engine_and_speaks(tmp_path, speech_home):
    from core import load_run, run_training
    from core.recipes import load_recipe
    from plugins.asr_tts.app import TtsApp
    from plugins.asr_tts.recipe import TacotronRecipe
    from plugins.asr_tts.tacotron import load_tacotron

    recipe = load_recipe(
        TacotronRecipe,
        None,
        {
            "corpus_size": 6,
            "encoder_embedding_dim": 16,
            "decoder_rnn_dim": 32,
            "attention_rnn_dim": 32,
            "prenet_dim": 16,
            "postnet_embedding_dim": 16,
            "decoder_max_step": 30,
            "batch_size": 3,
            "max_steps": 2,
            "logging_steps": 1,
            "save_steps": 100,
            "precision": "fp32",
        },
    )
    run = run_training(TtsApp(), recipe, run_dir=tmp_path / "taco", recipe_name="tiny")
    assert load_run(run)["status"] == "complete" and (run / "tts_config.json").is_file()
    audio, rate = load_tacotron(run, "cpu").synthesize("turn left")
    assert rate == 16000 and audio.dtype == np.float32 and 0 < len(audio) <= 31 * 256 + 1024
    out = tmp_path / "t.wav"
    result = CliRunner().invoke(
        cli, ["run", "tts", "stop", "--engine", "tacotron2", "--model", str(run), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sf.info(out).samplerate == 16000
    # 'apps bench tts' measures the prepared default beside espeak-ng
    default = speech_home / "models" / "tts" / "default"
    default.parent.mkdir(parents=True, exist_ok=True)
    default.symlink_to(run, target_is_directory=True)
    rows = TtsApp().benchmark(device="cpu")
    assert [r["metric"] for r in rows] == ["real-time factor", "latency"] * 2
    assert rows[2]["peer"] == "espeak-ng" and rows[2]["peer_value"] == rows[0]["value"]
    assert all(r["value"] > 0 for r in rows) and rows[0]["peak_rss_mb"] > 0


@needs_espeak
def test_assistant_chains_asr_and_tts_and_emits_results(tmp_path, speech_home, monkeypatch):
    """The assistant finds asr and tts through the plugin manager; --no-chat echoes the transcript."""
    from core.app import App
    from plugins.asr_tts.asr_model import CharVocab, build_model

    run = tmp_path / "asr-run"
    build_model(
        len(CharVocab()), hidden_size=32, num_layers=1, heads=2, subsampling_channels=8
    ).save_pretrained(run)
    CharVocab().save(run)
    seen = []
    monkeypatch.setattr(App, "emit", lambda self, result, **context: seen.append((self.name, result)))
    sf.write(tmp_path / "quiet.wav", np.zeros(8000, np.float32), 16000)
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "noise.wav", (0.2 * rng.standard_normal(16000)).astype(np.float32), 16000)
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "assistant",
            str(tmp_path / "quiet.wav"),
            str(tmp_path / "noise.wav"),
            "--asr-model",
            str(run),
            "--no-chat",
            "-o",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert rows[0]["message"] == "no speech detected"
    assert rows[1]["speech"] is True and rows[1]["reply"].startswith("you said:")
    assert [name for name, _ in seen] == ["asr", "assistant", "asr", "assistant"]
    if rows[1]["transcript"]:  # random weights may hear nothing; when they hear something it is spoken back
        assert sf.info(rows[1]["audio"]).frames > 0
