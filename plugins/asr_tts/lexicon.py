"""Lexicon-constrained CTC decoding: a prefix beam search that only spells words of a known vocabulary.

Command recognisers (Vosk's grammars, Kaldi's lexicon FSTs, torchaudio's ``ctc_decoder(lexicon=...)``)
know which words can be said. A character CTC model trained on a closed command set makes most of its
errors inside words ("turm lefd"); restricting the search to the words of its training transcripts
removes them without changing the model. Runs of ``apps train asr`` store that word list as
``lexicon.txt``; ``--decoder greedy`` ignores it.

Pure Python/numpy: utterances are short and the beam is small, so this costs milliseconds per utterance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

LEXICON_FILE = "lexicon.txt"
NEG_INF = -math.inf


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


class Lexicon:
    """The words a model may output, with every prefix of every word for the search."""

    def __init__(self, words):
        self.words = sorted({w for w in words if w})
        self.prefixes = {w[:i] for w in self.words for i in range(len(w) + 1)}
        self.word_set = set(self.words)

    @classmethod
    def from_texts(cls, texts) -> Lexicon:
        from plugins.asr_tts.data import normalize_text

        return cls(word for text in texts for word in normalize_text(text).split())

    def save(self, folder: str | Path) -> None:
        Path(folder, LEXICON_FILE).write_text("\n".join(self.words) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> Lexicon | None:
        path = Path(folder, LEXICON_FILE)
        if not path.is_file():
            return None
        return cls(path.read_text(encoding="utf-8").split())


def lexicon_beam_search(
    log_probs: np.ndarray,
    tokens: list[str],
    blank_id: int,
    lexicon: Lexicon,
    beam: int = 8,
    prune: float = -8.0,
) -> str:
    """Most probable transcript of one utterance's CTC ``log_probs`` (frames x tokens) whose words are
    all in ``lexicon``. ``tokens[i]`` is the character of output ``i`` (" " separates words). Characters
    with a log-probability below ``prune`` in a frame are not tried there."""
    space = tokens.index(" ") if " " in tokens else None
    # prefix (text so far) -> (log p ending in blank, log p ending in a character)
    beams: dict[str, tuple[float, float]] = {"": (0.0, NEG_INF)}
    for frame in log_probs:
        candidates = [i for i in np.flatnonzero(frame > prune) if i != blank_id]
        following: dict[str, list[float]] = defaultdict(lambda: [NEG_INF, NEG_INF])
        for prefix, (p_blank, p_char) in beams.items():
            total = _logadd(p_blank, p_char)
            entry = following[prefix]
            entry[0] = _logadd(entry[0], total + frame[blank_id])
            last = prefix[-1] if prefix else None
            for i in candidates:
                char = tokens[i]
                p = float(frame[i])
                if char == last:  # a repeat without a blank between collapses into the same prefix
                    entry[1] = _logadd(entry[1], p_char + p)
                    extend_from = p_blank
                else:
                    extend_from = total
                extended = _extend(prefix, char, i == space, lexicon)
                if extended is None:
                    continue
                target = following[extended]
                target[1] = _logadd(target[1], extend_from + p)
        ranked = sorted(following.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)
        beams = {prefix: (pb, pc) for prefix, (pb, pc) in ranked[:beam]}
    finished = [
        (prefix, _logadd(*scores))
        for prefix, scores in beams.items()
        if not prefix or prefix.rsplit(" ", 1)[-1] in lexicon.word_set
    ]
    if not finished:  # nothing spelled a whole word: fall back to the best beam as it stands
        return max(beams.items(), key=lambda kv: _logadd(*kv[1]))[0].strip()
    return max(finished, key=lambda kv: kv[1])[0].strip()


def _extend(prefix: str, char: str, is_space: bool, lexicon: Lexicon) -> str | None:
    """``prefix + char`` when every word in it stays a word (or the start of one) of the lexicon."""
    word = prefix.rsplit(" ", 1)[-1]
    if is_space:
        return prefix + " " if word in lexicon.word_set else None
    return prefix + char if word + char in lexicon.prefixes else None
