"""Tacotron 2 (torchaudio.models.Tacotron2) trained on one espeak-ng voice, voiced with Griffin-Lim.

``training_parts`` gives the core engine ``TacotronForTraining`` (the model plus its loss: mel MSE before and
after the postnet, the stop-gate BCE and a guided-attention term) on a one-voice espeak-ng corpus; the run
directory holds ``model.safetensors`` and ``tts_config.json``. ``load_tacotron`` reads it back for speaking.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import AppsError
from plugins.asr_tts.recipe import ESPEAK_CORPUS

SYMBOLS = ["_", *" abcdefghijklmnopqrstuvwxyz'.,?!-"]
CONFIG_FILE = "tts_config.json"
PREPARE_TAKES = "about 30 minutes on 2 CPU cores"  # how long 'apps prepare tts' trains


@dataclass
class MelSettings:
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_max: float = 8000.0


def text_to_ids(text: str) -> list[int]:
    index = {s: i for i, s in enumerate(SYMBOLS)}
    return [index[c] for c in text.lower() if c in index and c != "_"]


def mel_transform(settings: MelSettings):
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=settings.sample_rate,
        n_fft=settings.n_fft,
        hop_length=settings.hop_length,
        n_mels=settings.n_mels,
        f_max=settings.f_max,
        power=1.0,
    )


def log_mel(audio: np.ndarray, transform) -> torch.Tensor:
    """(n_mels, frames) log-magnitude mel spectrogram."""
    with torch.no_grad():
        return torch.log(torch.clamp(transform(torch.as_tensor(audio, dtype=torch.float32)), min=1e-5))


class TacotronOutput(dict):
    """What the Trainer reads: ``loss`` (plus the predicted mels for inspection)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    def to_tuple(self):
        return tuple(self.values())

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


class TacotronForTraining(nn.Module):
    def __init__(self, hyper: dict):
        super().__init__()
        from torchaudio.models import Tacotron2

        self.hyper = dict(hyper)
        # mask_padding=True masks outputs in place after the postnet used them: autograd rejects that;
        # the loss below masks padded frames instead.
        self.tacotron = Tacotron2(mask_padding=False, n_symbol=len(SYMBOLS), **self.hyper)
        self.gate_weight = 1.0
        self.guided_attention = 0.0

    def forward(self, tokens, token_lengths, mels, mel_lengths, gate, return_loss: bool = True):
        mel_out, mel_post, gate_out, alignments = self.tacotron(tokens, token_lengths, mels, mel_lengths)
        mask = (torch.arange(mels.shape[2], device=mels.device)[None] < mel_lengths[:, None]).float()
        frames = mask.sum() * mels.shape[1]
        mel_loss = (((mel_out - mels) ** 2) * mask[:, None]).sum() / frames
        post_loss = (((mel_post - mels) ** 2) * mask[:, None]).sum() / frames
        gate_loss = nn.functional.binary_cross_entropy_with_logits(
            gate_out, gate, weight=mask, reduction="sum"
        )
        loss = mel_loss + post_loss + self.gate_weight * gate_loss / mask.sum()
        if self.guided_attention:
            loss = loss + self.guided_attention * guided_attention_loss(
                alignments, token_lengths, mel_lengths
            )
        return TacotronOutput(loss=loss, mel=mel_post)


def guided_attention_loss(alignments, token_lengths, mel_lengths, width: float = 0.2):
    """Attention mass far from the diagonal, per valid output frame (Tachibana et al. 2017, DC-TTS).

    Speech advances through the text at a roughly steady pace; telling the attention so lets Tacotron learn
    its alignment in hundreds of steps instead of thousands, which is what makes CPU training possible.
    ``alignments``: (batch, mel frames, text positions)."""
    frames = torch.arange(alignments.shape[1], device=alignments.device)[None, :, None]
    chars = torch.arange(alignments.shape[2], device=alignments.device)[None, None, :]
    t = frames / mel_lengths[:, None, None]
    n = chars / token_lengths[:, None, None]
    weight = 1.0 - torch.exp(-((n - t) ** 2) / (2 * width**2))
    valid = (t < 1) & (n < 1)
    return (alignments * weight * valid).sum() / (mel_lengths.sum())


class TacotronCollator:
    def __call__(self, items: list[dict]) -> dict:
        items = sorted(items, key=lambda item: len(item["tokens"]), reverse=True)  # packed LSTM needs this
        token_lengths = torch.tensor([len(item["tokens"]) for item in items])
        mel_lengths = torch.tensor([item["mel"].shape[1] for item in items])
        n_mels = items[0]["mel"].shape[0]
        tokens = torch.zeros(len(items), int(token_lengths.max()), dtype=torch.long)
        mels = torch.full((len(items), n_mels, int(mel_lengths.max())), float(np.log(1e-5)))
        gate = torch.zeros(len(items), int(mel_lengths.max()))
        for i, item in enumerate(items):
            tokens[i, : len(item["tokens"])] = torch.tensor(item["tokens"])
            mels[i, :, : item["mel"].shape[1]] = item["mel"]
            gate[i, item["mel"].shape[1] - 1 :] = 1.0
        return {
            "tokens": tokens,
            "token_lengths": token_lengths,
            "mels": mels,
            "mel_lengths": mel_lengths,
            "gate": gate,
        }


class TacotronDataset:
    def __init__(self, rows, settings: MelSettings):
        self.rows, self.transform = rows, mel_transform(settings)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        from plugins.asr_tts.audio import load_audio, speech_frames

        row = self.rows[index]
        audio = load_audio(row.audio_filepath)
        active = np.flatnonzero(speech_frames(audio, -50.0))
        if len(active):  # the synthesiser's trailing silence would teach the gate nothing useful
            audio = audio[: min(len(audio), (active[-1] + 4) * 480)]
        return {"tokens": text_to_ids(row.text), "mel": log_mel(audio, self.transform)}


def training_parts(recipe):
    from core import TrainingParts, data_dir
    from plugins.asr_tts.corpus import build_voice_corpus
    from plugins.asr_tts.data import read_any, report_skipped

    if recipe.dataset in (None, ESPEAK_CORPUS):
        folder = build_voice_corpus(
            data_dir("tts") / f"espeak-{recipe.voice.replace('+', '-')}",
            recipe.voice,
            recipe.speed,
            recipe.corpus_size,
            recipe.corpus_seed,
        )
        source = str(folder)
    else:
        source = recipe.dataset
    train, skipped = read_any(source, "train")
    report_skipped(skipped, len(train))
    evaluation = read_any(source, "test")[0] if Path(source, "test.jsonl").is_file() else []
    unknown = sorted({c for row in train for c in row.text.lower() if c not in SYMBOLS})
    if unknown:
        print(
            f"warning: characters outside the Tacotron symbols are skipped: {''.join(unknown)!r}",
            file=sys.stderr,
        )
    settings = MelSettings(n_mels=recipe.n_mels)
    hyper = {
        "n_mels": recipe.n_mels,
        "symbol_embedding_dim": recipe.encoder_embedding_dim,
        "encoder_embedding_dim": recipe.encoder_embedding_dim,
        "decoder_rnn_dim": recipe.decoder_rnn_dim,
        "attention_rnn_dim": recipe.attention_rnn_dim,
        "prenet_dim": recipe.prenet_dim,
        "postnet_embedding_dim": recipe.postnet_embedding_dim,
        "decoder_max_step": recipe.decoder_max_step,
    }
    model = TacotronForTraining(hyper)
    model.gate_weight = recipe.gate_weight
    model.guided_attention = recipe.guided_attention

    def save(folder: Path) -> None:
        config = {"hyper": hyper, "mel": asdict(settings), "symbols": SYMBOLS, "voice": recipe.voice}
        (Path(folder) / CONFIG_FILE).write_text(json.dumps(config, indent=2))

    return TrainingParts(
        model=model,
        train_dataset=TacotronDataset(train, settings),
        eval_dataset=TacotronDataset(evaluation, settings) if evaluation else None,
        data_collator=TacotronCollator(),
        save=save,
        label_names=["gate"],
        metadata={
            "base_model": None,
            "dataset": source,
            "voice": recipe.voice,
            "train_utterances": len(train),
        },
    )


class TacotronSynthesizer:
    def __init__(self, model: TacotronForTraining, settings: MelSettings, device):
        import torchaudio

        self.model, self.settings, self.device = model.eval(), settings, device
        self.inverse = torchaudio.transforms.InverseMelScale(
            n_stft=settings.n_fft // 2 + 1,
            n_mels=settings.n_mels,
            sample_rate=settings.sample_rate,
            f_max=settings.f_max,
        )
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=settings.n_fft, hop_length=settings.hop_length, power=1.0, n_iter=32
        )

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        ids = text_to_ids(text)
        if not ids:
            raise AppsError(f"the Tacotron 2 symbols cannot spell {text!r}", hint="use English letters")
        tokens = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            mel, _, _ = self.model.tacotron.infer(tokens, torch.tensor([len(ids)], device=self.device))
            mel = mel[0].float().cpu()
            if mel.shape[1] < 8:  # a stop gate that fires at once: pad so the inverse STFT has frames
                mel = torch.nn.functional.pad(mel, (0, 8 - mel.shape[1]), value=float(np.log(1e-5)))
            magnitude = self.inverse(torch.exp(mel))
            wave = self.griffin_lim(magnitude)
        wave = wave / max(float(wave.abs().max()), 1e-4) * 0.9
        return wave.numpy().astype(np.float32), self.settings.sample_rate


def default_run() -> Path:
    """The Tacotron 2 that 'apps prepare tts' built, or the error that says how to build it."""
    from core import require_default

    return require_default("tts", takes=PREPARE_TAKES)


def load_tacotron(folder: str | Path, device=None) -> TacotronSynthesizer:
    from safetensors.torch import load_file

    from core import resolve_device

    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise AppsError(
            f"{folder} holds no trained Tacotron 2 ({CONFIG_FILE} is missing)",
            hint=f"train it: apps prepare tts ({PREPARE_TAKES}), "
            "or apps train tts --recipe tacotron2-commands",
        )
    config = json.loads(config_path.read_text())
    model = TacotronForTraining(config["hyper"])
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    device = resolve_device(device or "auto")
    return TacotronSynthesizer(model.to(device), MelSettings(**config["mel"]), device)
