"""Lexicon-constrained CTC decoding: a prefix beam search that only spells words of a known vocabulary,
optionally weighed by a word bigram model of the training transcripts.

Command recognisers (Vosk's grammars, Kaldi's lexicon FSTs, torchaudio's ``ctc_decoder(lexicon=...,
lm=...)``) know which words can be said, and in which order. A character CTC model trained on a closed
command set makes most of its errors inside words ("turm lefd"); restricting the search to the words of
its training transcripts removes them without changing the model. The bigram model (shallow fusion:
acoustic log-probability + ``lm_weight`` x the words' log-probability + ``word_bonus`` per word) prefers
"pick up the puck" to "pick up the pack" when the sound is ambiguous. Runs of ``apps train asr`` store the
word list as ``lexicon.txt`` and the bigram counts as ``word_bigrams.txt``; ``--decoder lexicon`` uses
the words alone, ``--decoder greedy`` neither.

Pure Python/numpy: utterances are short, so even 64 beams cost about 16 ms per utterance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

LEXICON_FILE = "lexicon.txt"
BIGRAM_FILE = "word_bigrams.txt"
NEG_INF = -math.inf
START, END = "<s>", "</s>"
# Beam and shallow-fusion weights, chosen on festival speech by runs trained without festival
# (docs/speech.md): 64 beams cost ~16 ms per utterance in Python, a real-time factor of about 0.01.
BEAM, LM_WEIGHT, WORD_BONUS = 64, 0.8, 1.0


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


class Lexicon:
    """The words a model may output, with every prefix of every word for the search, and the counts of
    word pairs in the training transcripts (``bigrams``; empty: no language model)."""

    def __init__(self, words, bigrams: dict[tuple[str, str], int] | None = None):
        self.words = sorted({w for w in words if w})
        self.prefixes = {w[:i] for w in self.words for i in range(len(w) + 1)}
        self.word_set = set(self.words)
        self.bigrams = dict(bigrams or {})
        self._following: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # word -> [count, types] after it
        self._unigrams: dict[str, int] = defaultdict(int)
        for (prev, word), count in self.bigrams.items():
            self._following[prev][0] += count
            self._following[prev][1] += 1
            self._unigrams[word] += count
        self._total = sum(self._unigrams.values())

    @classmethod
    def from_texts(cls, texts) -> Lexicon:
        from plugins.asr_tts.data import normalize_text

        words, bigrams = set(), defaultdict(int)
        for text in texts:
            sentence = normalize_text(text).split()
            words.update(sentence)
            for pair in zip([START, *sentence], [*sentence, END], strict=True):
                bigrams[pair] += 1
        return cls(words, bigrams)

    def log_prob(self, prev: str, word: str, discount: float = 0.75) -> float:
        """ln P(word | prev): absolutely discounted bigrams interpolated with add-one unigrams (words of
        the lexicon that never followed ``prev``, or never occurred in a pair, keep some probability)."""
        unigram = (self._unigrams.get(word, 0) + 1) / (self._total + len(self.words) + 1)
        count, types = self._following.get(prev, (0, 0))
        if not count:
            return math.log(unigram)
        pair = max(self.bigrams.get((prev, word), 0) - discount, 0.0) / count
        return math.log(pair + discount * types / count * unigram)

    def sentence_log_prob(self, words: list[str], final: bool = False) -> float:
        """ln P of ``words`` after the sentence start (and of the sentence's end when ``final``)."""
        pairs = zip([START, *words], [*words, END] if final else words, strict=False)
        return sum(self.log_prob(prev, word) for prev, word in pairs)

    def save(self, folder: str | Path) -> None:
        Path(folder, LEXICON_FILE).write_text("\n".join(self.words) + "\n", encoding="utf-8")
        if self.bigrams:
            lines = [f"{prev} {word} {count}" for (prev, word), count in sorted(self.bigrams.items())]
            Path(folder, BIGRAM_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, bigrams: bool = True) -> Lexicon | None:
        """The run's lexicon, with its bigram counts when it has them and ``bigrams`` is true."""
        path, counts = Path(folder, LEXICON_FILE), {}
        if not path.is_file():
            return None
        if bigrams and Path(folder, BIGRAM_FILE).is_file():
            for line in Path(folder, BIGRAM_FILE).read_text(encoding="utf-8").splitlines():
                prev, word, count = line.split()
                counts[(prev, word)] = int(count)
        return cls(path.read_text(encoding="utf-8").split(), counts)


def lexicon_beam_search(
    log_probs: np.ndarray,
    tokens: list[str],
    blank_id: int,
    lexicon: Lexicon,
    beam: int = BEAM,
    prune: float = -8.0,
    lm_weight: float = LM_WEIGHT,
    word_bonus: float = WORD_BONUS,
) -> str:
    """Most probable transcript of one utterance's CTC ``log_probs`` (frames x tokens) whose words are
    all in ``lexicon``, weighed by its bigrams when it has them. ``tokens[i]`` is the character of output
    ``i`` (" " separates words). Characters with a log-probability below ``prune`` in a frame are not tried
    there."""
    space = tokens.index(" ") if " " in tokens else None
    use_lm = bool(lexicon.bigrams) and lm_weight > 0
    language: dict[str, float] = {}  # finished words of a prefix -> their weighted LM score

    def words_score(prefix: str, final: bool = False) -> float:
        """The weighted language-model score of the prefix's finished words (all of them when ``final``)."""
        if not use_lm:
            return 0.0
        done = prefix if final else prefix.rsplit(" ", 1)[0] if " " in prefix else ""
        key = done + ("\n" if final else "")
        if key not in language:
            words = done.split()
            language[key] = lm_weight * lexicon.sentence_log_prob(words, final) + word_bonus * len(words)
        return language[key]

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
        ranked = sorted(following.items(), key=lambda kv: _logadd(*kv[1]) + words_score(kv[0]), reverse=True)
        beams = {prefix: (pb, pc) for prefix, (pb, pc) in ranked[:beam]}
    finished = [
        (prefix, _logadd(*scores) + words_score(prefix.strip(), final=True))
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
