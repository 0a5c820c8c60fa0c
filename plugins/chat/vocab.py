"""Chinese vocabulary extension: byte-level BPE spends about three tokens on each Chinese character.
The most frequent characters of the training set (ideographs and full-width punctuation such as ，。？“”)
become single tokens; their embedding and output rows start as the mean of the byte tokens they replace,
and train beside LoRA (``modules_to_save``)."""

from __future__ import annotations

import sys
from collections import Counter

from plugins.chat.metrics import is_cjk


def is_chinese_punctuation(char: str) -> bool:
    """Full-width and CJK punctuation (，。？、：“”…《》), which Chinese text uses as often as some characters:
    in the shipped dataset 。 and ， are among the most frequent symbols."""
    code = ord(char)
    return 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF or 0x2010 <= code <= 0x2027


def extend_vocabulary(model, tokenizer, texts: list[str], limit: int, min_count: int = 2) -> int:
    """Add up to ``limit`` Chinese characters and punctuation marks seen at least ``min_count`` times;
    returns how many."""
    import torch

    counts = Counter(ch for text in texts for ch in text if is_cjk(ch) or is_chinese_punctuation(ch))
    vocab = tokenizer.get_vocab()
    pieces = {}
    for char, count in counts.most_common():
        if len(pieces) >= limit or count < min_count:
            break
        ids = tokenizer(char, add_special_tokens=False)["input_ids"]
        if len(ids) > 1 and char not in vocab:
            pieces[char] = ids
    if not pieces:
        return 0
    added = tokenizer.add_tokens(list(pieces))
    old_size = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    inputs, outputs = model.get_input_embeddings().weight, model.get_output_embeddings()
    with torch.no_grad():
        for char, ids in pieces.items():
            new_id = tokenizer.convert_tokens_to_ids(char)
            inputs[new_id] = inputs[ids].mean(0)
            if outputs is not None and outputs.weight is not inputs:
                outputs.weight[new_id] = outputs.weight[ids].mean(0)
                if getattr(outputs, "bias", None) is not None:
                    outputs.bias[new_id] = outputs.bias[ids].mean(0)
    print(
        f"vocabulary extended: {added} Chinese characters and punctuation marks added "
        f"({old_size} -> {len(tokenizer)} tokens)",
        file=sys.stderr,
    )
    return added
