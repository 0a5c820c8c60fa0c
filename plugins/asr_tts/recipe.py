"""Recipe settings of the asr and tts apps, and where their recipe files live (light: no torch)."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from core import Recipe

RECIPES_DIR = Path(__file__).parent / "recipes"
# the app each recipe file trains (every other recipe file is the asr app's)
RECIPE_APPS = {"tacotron2-commands": "tts"}
ESPEAK_CORPUS = "espeak-commands"  # the dataset name of the synthesised corpus
# the pretrained model that parakeet-finetune starts from and 'apps prepare asr --pretrained' caches
PARAKEET_HUB = "nvidia/parakeet-ctc-0.6b"


@dataclass
class AsrRecipe(Recipe):
    """FastConformer CTC training. ``model: null`` builds a small model from scratch with the sizes below;
    a hub id or folder fine-tunes a pretrained ParakeetForCTC (its own tokenizer and feature sizes)."""

    dataset: Union[str, None] = ESPEAK_CORPUS  # noqa: UP007  espeak-commands | manifest.jsonl | LibriSpeech dir | hf:NAME
    eval_dataset: Union[str, None] = None  # noqa: UP007  default: the test split of ``dataset``
    corpus_train_size: int = 3000
    corpus_test_size: int = 400
    corpus_seed: int = 0
    corpus_festival_share: float = 0.0  # of the training utterances spoken by festival (when installed)
    corpus_validation_size: int = 0  # festival utterances kept apart: valid-festival.jsonl
    corpus_accent_size: int = 0  # more training utterances by festival's non-English voices (accents.py)
    leave_out_engine: Union[str, None] = None  # noqa: UP007  espeak | festival: train without it (validation)
    # model size (from scratch)
    hidden_size: int = 144
    num_layers: int = 4
    num_heads: int = 4
    ff_mult: int = 4
    conv_kernel_size: int = 9
    subsampling_factor: int = 4
    subsampling_channels: int = 64
    dropout: float = 0.1
    initializer_range: float = 0.02  # std of the random weights (transformers' default for Parakeet)
    # augmentation
    noise_prob: float = 0.5
    speed_perturb: float = (
        0.0  # play each training utterance at a random speed in 1 +- this (0.1: Kaldi's 0.9-1.1)
    )
    augment: bool = False  # rooms, noises, microphones, speed, tempo, pitch (augment.py); replaces noise_prob
    aug_speed: float = 0.15
    aug_speed_prob: float = 0.6
    aug_tempo_prob: float = 0.2
    aug_pitch_prob: float = 0.2
    aug_room_prob: float = 0.5
    aug_noise_prob: float = 0.6
    aug_bandwidth_prob: float = 0.3
    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: float = 0.05
    max_audio_seconds: float = 20.0
    unknown_chars: str = "drop"  # drop | error: transcripts the vocabulary cannot spell (reported either way)
    eval_limit: Union[int, None] = None  # noqa: UP007  evaluate on the first N eval utterances during training

    CHOICES: typing.ClassVar[dict[str, tuple[str, ...]]] = {
        **Recipe.CHOICES,
        "unknown_chars": ("drop", "error"),
    }


@dataclass
class TacotronRecipe(Recipe):
    """Tacotron 2 (torchaudio) on the espeak-ng corpus, spoken by one voice; Griffin-Lim turns its mel
    spectrograms back into sound."""

    dataset: Union[str, None] = ESPEAK_CORPUS  # noqa: UP007
    voice: str = "en-us+m3"
    speed: int = 150
    corpus_size: int = 600
    corpus_seed: int = 1
    n_mels: int = 80
    encoder_embedding_dim: int = 256
    decoder_rnn_dim: int = 512
    attention_rnn_dim: int = 512
    prenet_dim: int = 128
    postnet_embedding_dim: int = 256
    decoder_max_step: int = 400
    gate_weight: float = 1.0
    # weight of the diagonal-attention loss (0: off): the alignment appears in hundreds of steps
    guided_attention: float = 1.0
