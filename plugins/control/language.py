"""Words for the arm: instruction tokens for the policy and the task a free-form sentence means.

No pretrained text encoder is available offline, so the policy learns its word embeddings from the task
instructions, and words it never saw are brought to the words it knows through WordNet (Princeton's lexical
database, as Debian's ``wordnet-base`` package ships it in /usr/share/wordnet): a word is replaced by a known
word it shares a synset with ("shut" -> "close", "push" <-> "press"), after WordNet's own inflection rules
("pulled" -> "pull"). Nothing here lists paraphrases; without WordNet unknown words stay unknown.
"""

from __future__ import annotations

import functools
import math
import os
import re
from pathlib import Path

UNK, PAD = "<unk>", "<pad>"
# function words: kept as policy tokens, but they carry no weight when matching a sentence to a task
STOPWORDS = frozenset("a an the to it at and from of in on with into please then now".split())
CLAUSE_STARTS = frozenset("and then".split())
_POS = ("noun", "verb", "adj", "adv")
GENERAL_SENSES = 2  # a word's hypernyms count as its swaps in its this many most common senses
# an unknown word is read as a known synonym only through its this many most common senses: WordNet orders
# senses by frequency, and a rare one misleads ("touch" is "reach" only in its ninth)
COMMON_SENSES = 3
# WordNet's detachment rules (morphy): inflected ending -> base ending, per part of speech
_SUFFIXES = {
    "noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh")],
    "verb": [
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ],
    "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "adv": [],
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", str(text).lower())


def wordnet_dir() -> Path | None:
    """Where WordNet's database files are: $WNSEARCHDIR, else the Debian package's folder, else None."""
    for candidate in (os.environ.get("WNSEARCHDIR"), "/usr/share/wordnet", "/usr/local/WordNet-3.0/dict"):
        if candidate and (Path(candidate) / "index.verb").is_file():
            return Path(candidate)
    return None


class WordNet:
    """Just enough of WordNet: base forms and the synsets a word belongs to (the index and data files)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.index: dict[str, dict[str, list[int]]] = {pos: {} for pos in _POS}
        self.exceptions: dict[str, dict[str, str]] = {pos: {} for pos in _POS}
        for pos in _POS:
            with open(folder / f"index.{pos}", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.startswith(" "):
                        continue  # the licence header
                    fields = line.split()
                    synsets = int(fields[2])
                    self.index[pos][fields[0]] = [int(f) for f in fields[-synsets:]]
            exc = folder / f"{pos}.exc"
            if exc.is_file():
                for line in exc.read_text(encoding="utf-8", errors="replace").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        self.exceptions[pos][parts[0]] = parts[1]

    def bases(self, word: str, pos_only: str | None = None) -> list[tuple[str, str]]:
        """``(pos, base form)`` for every part of speech (or just ``pos_only``) where WordNet knows ``word``
        or its base form."""
        found = []
        for pos in (pos_only,) if pos_only else _POS:
            candidates = [word, self.exceptions[pos].get(word, "")]
            candidates += [word[: -len(end)] + base for end, base in _SUFFIXES[pos] if word.endswith(end)]
            found += [(pos, c) for c in dict.fromkeys(candidates) if c in self.index[pos]]  # "drawers": both
        return found

    def _synset(self, pos: str, offset: int, handle) -> tuple[list[str], list[tuple[str, str, int]]]:
        """One synset's one-word lemmas and its pointers ``(symbol, pos letter, offset)`` (a data-file line)."""
        fields = _data_line(handle, offset).split()
        count = int(fields[3], 16)
        lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower() for i in range(count)]
        at = 4 + 2 * count
        pointers = [
            (fields[at + 1 + 4 * k], fields[at + 3 + 4 * k], int(fields[at + 2 + 4 * k]))
            for k in range(int(fields[at]))
        ]
        return [lemma for lemma in lemmas if "_" not in lemma], pointers

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one WordNet per process
    def synonyms(self, word: str, pos_only: str | None = None) -> dict[str, int]:
        """Every lemma sharing a synset with ``word`` (as a ``pos_only`` if given) -> the best (lowest) sense
        rank it is shared at."""
        ranks: dict[str, int] = {}
        for pos, base in self.bases(word, pos_only):
            ranks[base] = 0
            with open(self.folder / f"data.{pos}", "rb") as handle:
                for rank, offset in enumerate(self.index[pos][base]):
                    for lemma in self._synset(pos, offset, handle)[0]:
                        ranks[lemma] = min(ranks.get(lemma, rank + 1), rank + 1)
        return ranks

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one WordNet per process
    def hypernyms(self, word: str) -> dict[str, int]:
        """Every lemma of a more general synset of ``word`` ("insert" -> "put", "place" ...) -> the best sense
        rank of ``word`` it generalises."""
        ranks: dict[str, int] = {}
        for pos, base in self.bases(word):
            with open(self.folder / f"data.{pos}", "rb") as handle:
                for rank, offset in enumerate(self.index[pos][base]):
                    for symbol, letter, target in self._synset(pos, offset, handle)[1]:
                        if symbol == "@" and letter == pos[0]:
                            for lemma in self._synset(pos, target, handle)[0]:
                                ranks[lemma] = min(ranks.get(lemma, rank + 1), rank + 1)
        return ranks

    def definitions(self, word: str, senses: int, pos_only: str | None = None) -> list[list[str]]:
        """The words of the definitions (glosses, examples cut off) of ``word``'s ``senses`` most common senses
        in each part of speech, most common first ("nudge": [["push", "against", "gently"], ...])."""
        found = []
        for pos, base in self.bases(word, pos_only):
            with open(self.folder / f"data.{pos}", "rb") as handle:
                for offset in self.index[pos][base][:senses]:
                    gloss = _data_line(handle, offset).partition(" | ")[2]
                    found.append(words(gloss.split(";")[0]))
        return found


def _data_line(handle, offset: int) -> str:
    """The line of a WordNet data file at ``offset``: one synset, its pointers and, after " | ", its gloss."""
    handle.seek(offset)
    return handle.readline().decode("utf-8", "replace")


@functools.lru_cache(maxsize=1)
def wordnet() -> WordNet | None:
    folder = wordnet_dir()
    return WordNet(folder) if folder else None


def canonical_word(word: str, vocabulary, verb: bool = False) -> str | None:
    """``word`` as a word of ``vocabulary``, or None when nothing fits: itself, its base form, the known word
    (or a known base form of the word) it shares the most common of its ``COMMON_SENSES`` first senses with
    ("shut" -> "closed" -> close); for a verb, else the verb its definition starts with ("nudge": "push
    against gently" -> push; lexicographers define a verb by a more general one). ``verb``: the word starts
    a command ("stick the peg": a verb, not "peg the peg"); other words are read as anything but a verb
    ("push the button down": not "set down")."""
    if word in vocabulary:
        return word
    lexicon = wordnet()
    if lexicon is None:
        return None
    for _, base in lexicon.bases(word):
        if base in vocabulary:
            return base
    known_as = {pos for pos, _ in lexicon.bases(word)}
    parts = ["verb"] if verb and "verb" in known_as else sorted(known_as - {"verb"})
    known = [
        (rank, base)
        for pos in parts
        for lemma, rank in lexicon.synonyms(word, pos).items()
        if rank <= COMMON_SENSES
        for base in [lemma] + [b for _, b in lexicon.bases(lemma)]
        if base in vocabulary and base not in STOPWORDS
    ]
    if known:
        return min(known)[1]
    if parts == ["verb"]:
        for definition in lexicon.definitions(word, GENERAL_SENSES, "verb"):
            head = [said for said in definition if said != "to"][:1]
            if head and head[0] in vocabulary:
                return head[0]
    return None


def tokenize(text: str, vocabulary) -> list[str]:
    """The words of ``text`` brought into ``vocabulary`` (``<unk>`` where nothing fits). The first content
    word of the text and of each clause ("... and put it ...") is read as a verb: commands start with one."""
    said, tokens, lead = words(text), [], True
    for word in said:
        tokens.append(canonical_word(word, vocabulary, verb=lead and word not in STOPWORDS) or UNK)
        lead = word in CLAUSE_STARTS or (lead and word in STOPWORDS)
    return tokens


def vocabulary_swaps(vocabulary) -> dict[str, list[str]]:
    """Known word -> the other known words it may be replaced by in training: WordNet synonyms ("push" ->
    ["press"]) and more general words of its two most common senses ("insert" -> ["place"]), so that a
    sentence saying either word still leads to the task."""
    lexicon = wordnet()
    if lexicon is None:
        return {}
    swaps = {}
    for word in vocabulary:
        if word in STOPWORDS or word in (UNK, PAD):
            continue
        general = {w for w, rank in lexicon.hypernyms(word).items() if rank <= GENERAL_SENSES}
        others = sorted(
            w
            for w in {*lexicon.synonyms(word), *general}
            if w in vocabulary and w != word and w not in STOPWORDS
        )
        if others:
            swaps[word] = others
    return swaps


def object_word(instruction: str) -> str:
    """The object an instruction acts on: the first word after its first "the" ("open the drawer" -> drawer)."""
    tokens = words(instruction)
    return tokens[tokens.index("the") + 1] if "the" in tokens else tokens[-1]


def _meanings(word: str) -> set[str]:
    """``word``, its base forms and every lemma it shares a synset with (just ``word`` without WordNet)."""
    lexicon = wordnet()
    if lexicon is None:
        return {word}
    return {word, *(base for _, base in lexicon.bases(word)), *lexicon.synonyms(word)}


def rank_instructions(text: str, instructions: list[str]) -> list[tuple[float, str]]:
    """``(score, instruction)`` best first, scores in [-1, 1].

    Each content word of an instruction weighs by how rare it is among the instructions (inverse document
    frequency). The score adds the weight of the instruction's words the text says (itself or a WordNet
    synonym), subtracts that of the text's words that belong only to other instructions ("close the door"
    is not "open the door"), over the instruction's total; it is 0 when the text does not name the
    instruction's object.
    """
    content = {i: {w for w in words(i) if w not in STOPWORDS} for i in instructions}
    vocabulary = set().union(*content.values())
    frequency = {w: sum(w in ws for ws in content.values()) for w in vocabulary}
    weight = {w: math.log(1 + len(instructions) / frequency[w]) for w in vocabulary}
    said = [_meanings(w) for w in words(text) if w not in STOPWORDS]
    ranked = []
    for instruction, ws in content.items():
        matched = {w for w in ws if any(w in meanings for meanings in said)}
        if object_word(instruction) not in matched:
            ranked.append((0.0, instruction))
            continue
        # a said word that is another instruction's word and matches nothing here contradicts this one
        foreign = {
            min(meanings & vocabulary) for meanings in said if meanings & vocabulary and not meanings & ws
        }
        score = sum(weight[w] for w in matched) - sum(weight[w] for w in foreign)
        ranked.append((score / sum(weight[w] for w in ws), instruction))
    return sorted(ranked, key=lambda pair: -pair[0])
