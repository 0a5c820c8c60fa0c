"""The ASR model: transformers' FastConformer CTC (``ParakeetForCTC``), char vocabulary, SpecAugment
collator, greedy or lexicon CTC decoding, WER/CER, and a ``Transcriber`` that loads a run directory or a
hub model.

``ParakeetForCTC`` needs transformers >= 4.57: its config takes the encoder as a dict, the CTC blank is
``pad_token_id`` and labels are padded with it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from core import AppsError

BLANK = "<blank>"
CHARS = list(" abcdefghijklmnopqrstuvwxyz'")
VOCAB_FILE = "vocab.json"
PREPARE_TAKES = "about 25 minutes on 2 CPU cores"  # how long 'apps prepare asr' synthesises and trains
# nvidia/parakeet-ctc-0.6b = transformers' ParakeetCTCConfig defaults (FastConformer, 24 layers, 609M params).
PARAKEET_CTC_06B = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 8,
    "intermediate_size": 4096,
    "conv_kernel_size": 9,
    "subsampling_factor": 8,
    "subsampling_conv_channels": 256,
    "num_mel_bins": 80,
    "vocab_size": 1025,
}


def default_run() -> Path:
    """The model 'apps prepare asr' built, or the error that says how to build it."""
    from core import require_default

    return require_default("asr", takes=PREPARE_TAKES)


def transformers_parakeet():
    """(ParakeetCTCConfig, ParakeetForCTC), or a clear error on transformers older than 4.57."""
    try:
        from transformers import ParakeetCTCConfig, ParakeetForCTC
    except ImportError as exc:
        import transformers

        raise AppsError(
            f"transformers {transformers.__version__} has no ParakeetForCTC (FastConformer CTC)",
            hint="pip install 'transformers>=4.57'",
        ) from exc
    return ParakeetCTCConfig, ParakeetForCTC


class CharVocab:
    """Characters of the transcripts plus the CTC blank at index 0."""

    def __init__(self, chars: list[str] | None = None):
        self.chars = list(chars or CHARS)
        self.tokens = [BLANK, *self.chars]
        self.index = {c: i for i, c in enumerate(self.tokens)}
        self.blank_id = 0

    def __len__(self) -> int:
        return len(self.tokens)

    def unknown(self, text: str) -> set[str]:
        return {c for c in text if c not in self.index or c == BLANK}

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text if c in self.index and c != BLANK]

    def decode_ids(self, ids) -> str:
        return "".join(self.tokens[i] for i in ids if 0 < i < len(self.tokens))

    def save(self, folder: str | Path) -> None:
        Path(folder, VOCAB_FILE).write_text(
            json.dumps({"type": "chars", "chars": self.chars}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, folder: str | Path) -> CharVocab:
        return cls(json.loads(Path(folder, VOCAB_FILE).read_text(encoding="utf-8"))["chars"])


class TokenizerVocab:
    """A pretrained Parakeet tokenizer (SentencePiece pieces) behind the same interface as ``CharVocab``."""

    def __init__(self, tokenizer, blank_id: int):
        self.tokenizer, self.blank_id = tokenizer, blank_id

    def unknown(self, text: str) -> set[str]:
        return set()

    def encode(self, text: str) -> list[int]:
        return [i for i in self.tokenizer(text, add_special_tokens=False)["input_ids"] if i != self.blank_id]

    def decode_ids(self, ids) -> str:
        return self.tokenizer.decode([i for i in ids if i != self.blank_id], skip_special_tokens=True)

    def save(self, folder) -> None:
        self.tokenizer.save_pretrained(folder)


def check_vocabulary(rows, vocab) -> list[tuple[str, str]]:
    """(where, unknown chars) for every transcript that the vocabulary cannot spell."""
    from plugins.asr_tts.data import normalize_text

    problems = []
    for row in rows:
        missing = vocab.unknown(normalize_text(row.text))
        if missing:
            problems.append((row.where, "".join(sorted(missing))))
    return problems


def build_model(
    vocab_size: int,
    blank_id: int = 0,
    hidden_size: int = 144,
    num_layers: int = 4,
    heads: int = 4,
    ff_mult: int = 4,
    conv_kernel_size: int = 9,
    subsampling_factor: int = 4,
    subsampling_channels: int = 64,
    dropout: float = 0.1,
    n_mels: int = 80,
    initializer_range: float = 0.02,
):
    """A FastConformer CTC model with random weights. The encoder config is passed as a dict (4.57 needs that)."""
    config_cls, model_cls = transformers_parakeet()
    encoder = {
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": heads,
        "intermediate_size": hidden_size * ff_mult,
        "conv_kernel_size": conv_kernel_size,
        "subsampling_factor": subsampling_factor,
        "subsampling_conv_channels": subsampling_channels,
        "num_mel_bins": n_mels,
        "dropout": dropout,
        "attention_dropout": dropout,
        "activation_dropout": dropout,
        "dropout_positions": 0.0,
        "layerdrop": 0.0,
        "initializer_range": initializer_range,
    }
    config = config_cls(
        vocab_size=vocab_size,
        pad_token_id=blank_id,
        encoder_config=encoder,
        ctc_loss_reduction="mean",
        ctc_zero_infinity=True,
    )
    return model_cls(config)


def parakeet_06b_random():
    """The full parakeet-ctc-0.6b architecture (transformers' default ParakeetCTCConfig) with random weights,
    for speed measurements offline."""
    config_cls, model_cls = transformers_parakeet()
    config = config_cls()
    return model_cls(config)


class SpeechCollator:
    """Items ``{"audio", "text"}`` -> ``input_features`` (log-mel, SpecAugment when training),
    ``attention_mask`` and ``labels`` padded with the blank id (what ParakeetForCTC expects)."""

    def __init__(
        self,
        vocab,
        train: bool = True,
        freq_masks: int = 2,
        freq_width: int = 15,
        time_masks: int = 2,
        time_width: float = 0.05,
    ):
        from plugins.asr_tts.audio import LogMel
        from plugins.asr_tts.data import normalize_text

        self.vocab, self.train = vocab, train
        self.features = LogMel()
        self.normalize = normalize_text
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width

    def spec_augment(self, feats, mask):
        """torchaudio's FrequencyMasking/TimeMasking, per utterance so each gets its own masks."""
        import torchaudio

        freq = torchaudio.transforms.FrequencyMasking(self.freq_width, iid_masks=True)
        out = feats.transpose(1, 2).clone()  # (B, n_mels, T)
        for _ in range(self.freq_masks):
            out = freq(out)
        lengths = mask.sum(-1)
        for i in range(out.shape[0]):
            width = max(1, int(self.time_width * int(lengths[i])))
            time = torchaudio.transforms.TimeMasking(width)
            for _ in range(self.time_masks):
                out[i : i + 1, :, : int(lengths[i])] = time(out[i : i + 1, :, : int(lengths[i])])
        return out.transpose(1, 2)

    def __call__(self, items: list[dict]) -> dict:
        import torch

        feats, mask = self.features([item["audio"] for item in items])
        if self.train:
            feats = self.spec_augment(feats, mask)
        ids = [self.vocab.encode(self.normalize(item["text"])) for item in items]
        labels = torch.full(
            (len(ids), max(1, max(len(x) for x in ids))), self.vocab.blank_id, dtype=torch.long
        )
        for i, seq in enumerate(ids):
            labels[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        return {"input_features": feats, "attention_mask": mask, "labels": labels}


def greedy_ids(frame_ids, blank_id: int) -> list[int]:
    """CTC greedy decoding of one utterance: collapse repeats, drop blanks."""
    out, previous = [], None
    for i in frame_ids:
        i = int(i)
        if i != previous and i != blank_id:
            out.append(i)
        previous = i
    return out


def error_rates(references: list[str], hypotheses: list[str]) -> dict:
    """WER and CER with jiwer, on normalised text; empty references are skipped."""
    import jiwer

    from plugins.asr_tts.data import normalize_text

    pairs = [
        (normalize_text(r), normalize_text(h))
        for r, h in zip(references, hypotheses, strict=False)
        if normalize_text(r)
    ]
    if not pairs:
        return {"wer": float("nan"), "cer": float("nan")}
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}


def make_compute_metrics(vocab):
    """``EvalPrediction -> {"wer", "cer"}`` for the Trainer. Frames the Trainer padded (all -100) decode as blank."""

    def compute_metrics(prediction) -> dict:
        logits = (
            prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        )
        frame_ids = np.argmax(logits, axis=-1)
        padded = np.all(logits == logits[..., :1], axis=-1)
        frame_ids[padded] = vocab.blank_id
        hyps = [vocab.decode_ids(greedy_ids(row, vocab.blank_id)) for row in frame_ids]
        refs = [
            vocab.decode_ids([i for i in row if i >= 0 and i != vocab.blank_id])
            for row in prediction.label_ids
        ]
        return error_rates(refs, hyps)

    return compute_metrics


def mask_padded_logits(model):
    """Make padded frames decode as blank, so batched evaluation in the Trainer equals one-by-one decoding."""
    import functools

    original = model.forward

    @functools.wraps(original)
    def forward(*args, **kwargs):
        output = original(*args, **kwargs)
        mask = kwargs.get("attention_mask")
        if mask is not None and not model.training and getattr(output, "logits", None) is not None:
            valid = model._get_output_attention_mask(mask, target_length=output.logits.shape[1]).bool()
            logits = output.logits.masked_fill(~valid[..., None], -100.0)
            blank = model.config.pad_token_id
            logits[..., blank] = logits[..., blank].masked_fill(~valid, 0.0)
            output.logits = logits
        return output

    model.forward = forward
    return model


class Transcriber:
    """Speech to text with a trained run directory (char vocabulary) or a pretrained hub model."""

    def __init__(self, model, vocab, device, max_chunk_s: float = 20.0, lexicon=None):
        from plugins.asr_tts.audio import LogMel

        self.model, self.vocab, self.device = model.eval(), vocab, device
        self.features = LogMel(n_mels=model.config.encoder_config.num_mel_bins)
        self.max_chunk_s = max_chunk_s
        self.lexicon = lexicon  # a plugins.asr_tts.lexicon.Lexicon: decode only its words; None: greedy

    @property
    def decoder(self) -> str:
        if self.lexicon is None:
            return "greedy"
        return "lm" if self.lexicon.bigrams else "lexicon"

    @classmethod
    def load(cls, source: str | Path, device=None, dtype=None, decoder: str = "auto") -> Transcriber:
        """``decoder``: ``greedy``, ``lexicon`` (the words of the run's training transcripts, lexicon.txt),
        ``lm`` (those words weighed by their bigrams, word_bigrams.txt) or ``auto`` (the first of lm,
        lexicon and greedy that the run has)."""
        import torch

        from core import resolve_device
        from plugins.asr_tts.lexicon import BIGRAM_FILE, LEXICON_FILE, Lexicon

        _, model_cls = transformers_parakeet()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would break --json output lines
        device = resolve_device(device or "auto")
        source_path = Path(source)
        try:
            if source_path.is_dir() and (source_path / VOCAB_FILE).is_file():
                model = model_cls.from_pretrained(source_path)
                vocab = CharVocab.load(source_path)
            else:
                from transformers import AutoTokenizer

                model = model_cls.from_pretrained(str(source))
                vocab = TokenizerVocab(AutoTokenizer.from_pretrained(str(source)), model.config.pad_token_id)
        except AppsError:
            raise
        except Exception as exc:
            raise AppsError(
                f"cannot load the ASR model '{source}': {exc}",
                hint="build the offline default with 'apps prepare asr', or pass --model RUN_DIR",
            ) from None
        model.to(device=device, dtype=dtype or torch.float32)
        lexicon = None
        if decoder != "greedy" and isinstance(vocab, CharVocab):
            lexicon = Lexicon.load(source_path, bigrams=decoder != "lexicon")
        if decoder in ("lexicon", "lm") and lexicon is None:
            raise AppsError(
                f"'{source}' has no {LEXICON_FILE} for lexicon decoding",
                hint="runs of 'apps train asr' with a character vocabulary write one; use --decoder greedy",
            )
        if decoder == "lm" and not lexicon.bigrams:
            raise AppsError(
                f"'{source}' has no {BIGRAM_FILE} for the word language model",
                hint="runs of 'apps train asr' write one since the fifteenth session; use --decoder lexicon",
            )
        return cls(model, vocab, device, lexicon=lexicon)

    def log_probs(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame CTC log-probabilities (waves x frames x tokens) and each wave's number of valid frames,
        from one forward pass."""
        import torch

        feats, mask = self.features(waves)
        dtype = next(self.model.parameters()).dtype
        with torch.inference_mode():
            logits = self.model(
                input_features=feats.to(self.device, dtype), attention_mask=mask.to(self.device)
            ).logits
            valid = self.model._get_output_attention_mask(mask.to(self.device), target_length=logits.shape[1])
            log_probs = torch.log_softmax(logits.float(), -1)
        return log_probs.cpu().numpy(), valid.sum(-1).cpu().numpy()

    def _decode_batch(self, waves: list[np.ndarray]) -> list[tuple[str, str]]:
        """``(text, greedy text)`` per wave, from one forward pass (they differ with a lexicon)."""
        log_probs, lengths = self.log_probs(waves)
        blank = self.model.config.pad_token_id
        greedy = [
            self.vocab.decode_ids(greedy_ids(row[: int(n)].argmax(-1), blank)).strip()
            for row, n in zip(log_probs, lengths, strict=True)
        ]
        if self.lexicon is None:
            return list(zip(greedy, greedy, strict=True))
        from plugins.asr_tts.lexicon import lexicon_beam_search

        texts = [
            lexicon_beam_search(row[: int(n)], self.vocab.tokens, blank, self.lexicon)
            for row, n in zip(log_probs, lengths, strict=True)
        ]
        return list(zip(texts, greedy, strict=True))

    def transcribe(
        self, waves: list[np.ndarray], batch_size: int = 16, with_greedy: bool = False
    ) -> list[dict]:
        """Mono 16 kHz arrays -> ``{"text", "duration_s", "seconds", "chunks", "speech"}`` per input.
        Silent input gives ``speech: False`` and empty text; long input is cut at quiet points into chunks.
        ``with_greedy`` adds ``greedy_text``: the greedy decoding of the same forward pass."""
        from plugins.asr_tts.audio import has_speech, split_on_silence

        results: list[dict | None] = [None] * len(waves)
        pieces, owners = [], []
        for i, wave in enumerate(waves):
            duration = len(wave) / 16000
            if len(wave) < 1600 or not has_speech(wave):
                results[i] = {"text": "", "speech": False, "duration_s": round(duration, 3), "chunks": 0}
                continue
            spans = split_on_silence(wave, self.max_chunk_s)
            for start, end in spans:
                pieces.append(wave[start:end])
                owners.append(i)
            results[i] = {
                "text": "",
                "speech": True,
                "duration_s": round(duration, 3),
                "chunks": len(spans),
                "seconds": 0.0,
            }
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k]))  # similar lengths batch well
        texts: dict[int, tuple[str, str]] = {}
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            began = time.perf_counter()
            decoded = self._decode_batch([pieces[k] for k in batch])
            spent = time.perf_counter() - began
            total = sum(len(pieces[k]) for k in batch)
            for k, text in zip(batch, decoded, strict=False):
                texts[k] = text
                results[owners[k]]["seconds"] += spent * len(pieces[k]) / total
        if with_greedy:
            for result in results:
                result["greedy_text"] = ""
        for k in range(len(pieces)):
            result = results[owners[k]]
            result["text"] = (result["text"] + " " + texts[k][0]).strip()
            if with_greedy:
                result["greedy_text"] = (result["greedy_text"] + " " + texts[k][1]).strip()
        for result in results:
            if result.get("speech"):
                result["seconds"] = round(result["seconds"], 4)
                result["rtf"] = round(result["seconds"] / max(result["duration_s"], 1e-6), 4)
        return results
