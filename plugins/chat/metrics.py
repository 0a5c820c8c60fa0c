"""Chat quality metrics: CJK share, character-level BLEU-4, ROUGE-L on jieba words, perplexity.

BLEU-4 and ROUGE-L follow LLaMA-Factory's ``compute_metrics`` (sentence BLEU-4 on characters with NIST
geometric smoothing, ROUGE-L F1 on jieba words, both averaged over samples and scaled to 0-100), so the
figures compare with what its users see.
"""

from __future__ import annotations

import math
from collections import Counter


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
    )


def cjk_share(texts) -> float:
    """CJK ideographs among all letters (CJK + other alphabetic characters) of ``texts``; digits,
    punctuation and spaces do not count, a U+FFFD from broken UTF-8 bytes counts as a non-CJK letter.
    0.0 when there are no letters at all."""
    if isinstance(texts, str):
        texts = [texts]
    cjk = letters = 0
    for text in texts:
        for char in text:
            if is_cjk(char):
                cjk += 1
                letters += 1
            elif char.isalpha() or char == "\ufffd":
                letters += 1
    return cjk / letters if letters else 0.0


def _ngrams(tokens: list, n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu4(reference: list, hypothesis: list) -> float:
    """BLEU-4 of one hypothesis against one reference (token lists), NIST geometric smoothing
    (nltk's ``SmoothingFunction().method3``). 0..1."""
    if not hypothesis or not reference:
        return 0.0
    log_sum, zeros = 0.0, 0
    for n in range(1, 5):
        hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
        total = max(sum(hyp.values()), 1)
        matched = sum(min(count, ref[gram]) for gram, count in hyp.items())
        if matched == 0:
            zeros += 1
            precision = 1.0 / (2**zeros * total)
        else:
            precision = matched / total
        log_sum += math.log(precision) / 4
    ratio = len(hypothesis) / len(reference)
    brevity = 1.0 if ratio > 1 else math.exp(1 - 1 / ratio)
    return brevity * math.exp(log_sum)


def _lcs(a: list, b: list) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(reference: list, hypothesis: list) -> float:
    """ROUGE-L F1 of two token lists. 0..1."""
    if not reference or not hypothesis:
        return 0.0
    lcs = _lcs(reference, hypothesis)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(hypothesis), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def jieba_words(text: str) -> list[str]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if w.strip()]


def text_scores(predictions: list[str], references: list[str]) -> dict:
    """Mean char-level BLEU-4 and jieba ROUGE-L (0-100) over aligned predictions and references."""
    if len(predictions) != len(references):
        raise ValueError("predictions and references differ in length")
    if not predictions:
        return {"bleu4": 0.0, "rouge_l": 0.0}
    bleu = [
        sentence_bleu4(list(r.strip()), list(p.strip()))
        for p, r in zip(predictions, references, strict=False)
    ]
    rouge = [rouge_l(jieba_words(r), jieba_words(p)) for p, r in zip(predictions, references, strict=False)]
    return {"bleu4": 100 * sum(bleu) / len(bleu), "rouge_l": 100 * sum(rouge) / len(rouge)}


def perplexity(model, batches) -> dict:
    """Token perplexity over ``batches`` of ``{"input_ids", "attention_mask", "labels"}`` (labels -100 are
    ignored), plus the summed loss so callers can normalise per character."""
    import torch

    total_loss, total_tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(model.device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            labels = batch["labels"][:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.size(-1)),
                labels.reshape(-1),
                reduction="sum",
                ignore_index=-100,
            )
            total_loss += float(losses)
            total_tokens += int((labels != -100).sum())
    mean = total_loss / max(total_tokens, 1)
    return {"ppl": math.exp(min(mean, 50.0)), "nll_sum": total_loss, "tokens": total_tokens}
