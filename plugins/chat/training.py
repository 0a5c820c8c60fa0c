"""``ChatApp.training_parts``: pretraining the miniature English model, and supervised chat fine-tuning
(LoRA or full) of any causal LM with prompt tokens masked out of the loss."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from core import AppsError, TrainingParts
from plugins.chat import data as chat_data
from plugins.chat.domains import english_arithmetic
from plugins.chat.model import (
    base_signature,
    build_tiny_phi,
    load_causal_lm,
    load_tokenizer,
    resolve_model_ref,
    train_byte_bpe,
)
from plugins.chat.templates import get_template, save_template

REPLAY_BLOCK = 64  # tokens


def training_parts(recipe) -> TrainingParts:
    if recipe.task == "pretrain":
        return _pretrain_parts(recipe)
    return _sft_parts(recipe)


def _saver(tokenizer, template):
    def save(run_dir: Path) -> None:
        tokenizer.chat_template = template.jinja()  # plain transformers renders the same prompts
        tokenizer.save_pretrained(str(run_dir))
        save_template(template, run_dir)

    return save


def _pretrain_parts(recipe) -> TrainingParts:
    text = chat_data.english_corpus("train")
    if recipe.arithmetic_text:
        text += "\n\n" + english_arithmetic(recipe.arithmetic_text)
    tokenizer = train_byte_bpe(text, recipe.vocab_size)
    model = build_tiny_phi(tokenizer, recipe.model_config)
    train = chat_data.TextBlocks(text, tokenizer, recipe.cutoff_len)
    test = chat_data.TextBlocks(chat_data.english_corpus("test"), tokenizer, recipe.cutoff_len)
    template = get_template(recipe.template, tokenizer)
    print(
        f"pretraining corpus: {len(train)} blocks of {recipe.cutoff_len} tokens (pydoc topics), "
        f"{len(test)} held out; tokenizer: byte-level BPE, {len(tokenizer)} tokens",
        file=sys.stderr,
    )
    return TrainingParts(
        model=model,
        train_dataset=train,
        eval_dataset=test,
        data_collator=chat_data.CausalCollator(tokenizer.pad_token_id),
        save=_saver(tokenizer, template),
        metadata={
            "task": "pretrain",
            "template": template.name,
            "corpus": "pydoc_data.topics",
            "base_signature": base_signature(model.config),
        },
    )


def _load_base(ref: str, recipe):
    import torch

    # LoRA under fp16/bf16 keeps the frozen base in half precision (half the memory); the engine keeps
    # the trainable parameters in fp32.
    half = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(recipe.precision)
    dtype = (
        half if recipe.finetune == "lora" and half is not None and not recipe.extend_vocab else torch.float32
    )
    # Straight onto the GPU the engine will train on: a Jetson's shared DRAM never holds a CPU copy beside it.
    device_map = {"": int(os.environ.get("LOCAL_RANK", 0))} if torch.cuda.is_available() else None
    return load_causal_lm(ref, dtype=dtype, device_map=device_map)


def _sft_parts(recipe) -> TrainingParts:
    if not recipe.dataset:
        raise AppsError(
            "the recipe names no dataset", hint="for example dataset=zh-instruct or dataset=data.json"
        )
    if recipe.domain_draws < 1:
        raise AppsError(
            f"domain_draws is {recipe.domain_draws}; expected 1 or more", hint="for example domain_draws=3"
        )
    ref = resolve_model_ref(recipe.model)
    tokenizer = load_tokenizer(ref)
    template = get_template(recipe.template, tokenizer)
    train_conv, reports = chat_data.resolve_dataset(
        recipe.dataset, recipe.dataset_dir, recipe.on_error, "train", recipe.domain_draws
    )
    eval_conv = []
    if recipe.eval_dataset:
        eval_conv, _ = chat_data.resolve_dataset(
            recipe.eval_dataset, recipe.dataset_dir, recipe.on_error, "test"
        )
    elif recipe.val_size > 0:
        rng = random.Random(recipe.seed)
        rng.shuffle(train_conv)
        cut = max(1, int(len(train_conv) * recipe.val_size))
        eval_conv, train_conv = train_conv[:cut], train_conv[cut:]
    if recipe.max_samples:
        train_conv = train_conv[: recipe.max_samples]
    for report in reports:
        print(report.summary(), file=sys.stderr)

    model = _load_base(ref, recipe)
    added = 0
    if recipe.extend_vocab > 0:
        from plugins.chat.vocab import extend_vocabulary

        added = extend_vocabulary(
            model, tokenizer, [c for conv in train_conv for c in _texts(conv)], recipe.extend_vocab
        )
    train = chat_data.ChatDataset(train_conv, template, tokenizer, recipe.cutoff_len)
    if len(train) == 0:
        raise AppsError(
            f"no training sample is left after encoding: {train.report.summary()}",
            hint="raise cutoff_len or check the dataset",
        )
    print(f"train: {train.report.summary()}", file=sys.stderr)
    evaluation = (
        chat_data.ChatDataset(eval_conv, template, tokenizer, recipe.cutoff_len) if eval_conv else None
    )
    if evaluation is not None:
        print(f"eval: {evaluation.report.summary()}", file=sys.stderr)
    if recipe.replay_english > 0:  # a little of the base's own text keeps English from being forgotten
        # blocks about as long as a chat sample: a batch is padded to its longest item
        blocks = chat_data.TextBlocks(chat_data.english_corpus("train"), tokenizer, REPLAY_BLOCK)
        rng = random.Random(recipe.seed)
        count = min(len(blocks), int(len(train) * recipe.replay_english))
        train.items += rng.sample(blocks.items, count)
        print(f"replay: {count} English text blocks mixed into training", file=sys.stderr)
    trainable = ["embed_tokens", "lm_head"] if added else []
    return TrainingParts(
        model=model,
        train_dataset=train,
        eval_dataset=evaluation,
        data_collator=chat_data.CausalCollator(tokenizer.pad_token_id),
        save=_saver(tokenizer, template),
        trainable_modules=trainable,
        metadata={
            "task": "sft",
            "base_model": ref,
            "base_signature": base_signature(model.config),
            "template": template.name,
            "dataset": recipe.dataset,
            "data": {
                "train": len(train),
                "eval": len(evaluation) if evaluation else 0,
                "truncated": train.report.truncated,
                "dropped": train.report.dropped,
                "malformed": sum(r.malformed for r in reports),
            },
            "added_tokens": added,
        },
    )


def _texts(conversation: dict) -> list[str]:
    return [m["content"] for m in conversation["messages"]]
