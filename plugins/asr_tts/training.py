"""What the core engine needs to train the asr app: datasets, model, collator, metrics, save hook.

The espeak-ng corpus is synthesised here, before training starts (``resolve_datasets``), when the recipe
asks for it and it is not built yet. The tts app's training lives in tacotron.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core import AppsError
from plugins.asr_tts.recipe import ESPEAK_CORPUS, AsrRecipe


def resolve_datasets(recipe: AsrRecipe):
    """(train rows, eval rows, description) from the recipe's dataset settings; bad rows are reported."""
    from plugins.asr_tts.data import read_any, report_skipped

    spec = recipe.dataset or ESPEAK_CORPUS
    if spec == ESPEAK_CORPUS:
        from plugins.asr_tts.corpus import espeak_corpus

        info = espeak_corpus(
            train_size=recipe.corpus_train_size,
            test_size=recipe.corpus_test_size,
            seed=recipe.corpus_seed,
            festival_share=recipe.corpus_festival_share,
            validation_size=recipe.corpus_validation_size,
            accent_size=recipe.corpus_accent_size,
            progress=lambda line: print(line, file=sys.stderr),
        )
        spec = str(Path(info["train"]).parent)
    train, skipped = read_any(spec, "train")
    report_skipped(skipped, len(train))
    if recipe.leave_out_engine:  # validation runs: one synthesiser kept out of training
        train = [row for row in train if engine_of(row) != recipe.leave_out_engine]
    eval_spec = recipe.eval_dataset
    if eval_spec is None and Path(spec).is_dir() and (Path(spec) / "test.jsonl").is_file():
        eval_spec = spec
    evaluation = []
    if eval_spec is not None:
        evaluation, skipped = read_any(eval_spec, "test" if Path(str(eval_spec)).is_dir() else "validation")
        report_skipped(skipped, len(evaluation))
    return train, evaluation, spec


def engine_of(row) -> str:
    """The synthesiser of a corpus row: its voice is ``festival+NAME`` (ked), ``accent+NAME`` (festival's
    non-English voices, accents.py) or an espeak-ng voice."""
    engine = (row.voice or "").split("+")[0]
    return engine if engine in ("festival", "accent") else "espeak"


def augment_settings(recipe: AsrRecipe):
    """The recipe's augmentation (augment.py), or None when ``augment`` is off."""
    if not recipe.augment:
        return None
    from plugins.asr_tts.augment import AugmentSettings

    return AugmentSettings(
        speed=recipe.aug_speed,
        speed_prob=recipe.aug_speed_prob,
        tempo_prob=recipe.aug_tempo_prob,
        pitch_prob=recipe.aug_pitch_prob,
        room_prob=recipe.aug_room_prob,
        noise_prob=recipe.aug_noise_prob,
        bandwidth_prob=recipe.aug_bandwidth_prob,
    )


def filter_vocabulary(rows, vocab, policy: str, label: str):
    """Report transcripts with characters the vocabulary lacks before any training; drop or stop."""
    from plugins.asr_tts.asr_model import check_vocabulary

    problems = check_vocabulary(rows, vocab)
    if not problems:
        return rows
    chars = "".join(sorted({c for _, missing in problems for c in missing}))
    lines = "\n".join(f"  {where}: {missing!r}" for where, missing in problems[:5])
    message = f"{len(problems)} of {len(rows)} {label} transcripts use characters outside the vocabulary ({chars!r})"
    if policy == "error":
        raise AppsError(
            message + "\n" + lines, hint="fix the transcripts, or set unknown_chars=drop to skip them"
        )
    print(f"warning: {message}; they are left out:\n{lines}", file=sys.stderr)
    bad = {where for where, _ in problems}
    return [row for row in rows if row.where not in bad]


def training_parts(recipe: AsrRecipe):
    """``model: null`` builds a small FastConformer with a character vocabulary; a run directory of ours
    continues it; a hub id or folder fine-tunes a pretrained ParakeetForCTC with its own tokenizer."""
    from core import TrainingParts
    from plugins.asr_tts.asr_model import (
        VOCAB_FILE,
        CharVocab,
        SpeechCollator,
        TokenizerVocab,
        build_model,
        make_compute_metrics,
        mask_padded_logits,
        transformers_parakeet,
    )
    from plugins.asr_tts.data import SpeechDataset
    from plugins.asr_tts.lexicon import Lexicon

    train_rows, eval_rows, source = resolve_datasets(recipe)
    if recipe.model and (Path(recipe.model) / VOCAB_FILE).is_file():  # continue one of our own runs
        _, model_cls = transformers_parakeet()
        model = model_cls.from_pretrained(recipe.model)
        vocab = CharVocab.load(recipe.model)
    elif recipe.model:
        _, model_cls = transformers_parakeet()
        from transformers import AutoTokenizer

        try:
            model = model_cls.from_pretrained(recipe.model)
            vocab = TokenizerVocab(AutoTokenizer.from_pretrained(recipe.model), model.config.pad_token_id)
        except Exception as exc:
            raise AppsError(
                f"cannot load the pretrained ASR model '{recipe.model}': {exc}",
                hint="it needs the Hugging Face hub once; offline, use --recipe conformer-ctc-commands",
            ) from None
    else:
        vocab = CharVocab()
        model = build_model(
            len(vocab),
            vocab.blank_id,
            recipe.hidden_size,
            recipe.num_layers,
            recipe.num_heads,
            recipe.ff_mult,
            recipe.conv_kernel_size,
            recipe.subsampling_factor,
            recipe.subsampling_channels,
            recipe.dropout,
            initializer_range=recipe.initializer_range,
        )
    train_rows = filter_vocabulary(train_rows, vocab, recipe.unknown_chars, "training")
    eval_rows = filter_vocabulary(eval_rows, vocab, recipe.unknown_chars, "evaluation")
    if recipe.eval_limit:
        eval_rows = eval_rows[: recipe.eval_limit]
    collator = SpeechCollator(
        vocab,
        train=True,
        freq_masks=recipe.freq_masks,
        freq_width=recipe.freq_width,
        time_masks=recipe.time_masks,
        time_width=recipe.time_width,
    )
    eval_collator = SpeechCollator(vocab, train=False)

    def collate(items):  # the Trainer puts the model in eval mode for evaluation: no SpecAugment then
        return (collator if model.training else eval_collator)(items)

    lexicon = Lexicon.from_texts(row.text for row in train_rows) if isinstance(vocab, CharVocab) else None

    def save(folder: Path) -> None:
        vocab.save(folder)
        if lexicon is not None:  # the words it was trained on, for lexicon decoding
            lexicon.save(folder)

    return TrainingParts(
        model=mask_padded_logits(model),
        train_dataset=SpeechDataset(
            train_rows,
            recipe.noise_prob,
            seed=recipe.seed,
            max_seconds=recipe.max_audio_seconds,
            speed_perturb=recipe.speed_perturb,
            augment=augment_settings(recipe),
        ),
        eval_dataset=SpeechDataset(eval_rows, 0.0, max_seconds=recipe.max_audio_seconds)
        if eval_rows
        else None,
        data_collator=collate,
        compute_metrics=make_compute_metrics(vocab),
        save=save,
        trainable_modules=["ctc_head"],
        label_names=["labels"],
        metadata={
            "base_model": recipe.model,
            "dataset": str(source),
            "train_utterances": len(train_rows),
            "eval_utterances": len(eval_rows),
            "vocab_size": len(vocab) if hasattr(vocab, "__len__") else None,
            "sample_rate": 16000,
        },
    )
