"""Whole characters only: a byte-level tokenizer (GPT-2, Phi, the miniature model) spells a Chinese
character with up to four byte tokens, and a sampled byte sequence may never become valid UTF-8.

``Utf8Guard`` is a logits processor that tracks, per row, where the answer's bytes stand in UTF-8 and masks
every token whose bytes cannot continue it: no stray continuation byte, no overlong or surrogate sequence,
no end of text in the middle of a character. It also masks every token holding a control character
(``CONTROL_BYTES``): valid UTF-8, but nothing a chat answer shows (the demo renders an empty bubble).
Until a row has produced a visible character it masks end of text and whitespace-only tokens too, so an
answer is never empty or blank (front ends strip an answer's whitespace and would show nothing).
``drop_incomplete_tail`` removes what a cut by ``max_new_tokens`` leaves of an unfinished character. No torch at import.
"""

from __future__ import annotations

import json

REPLACEMENT = "\ufffd"

# A state is (continuation bytes still expected, lowest and highest allowed value of the next one).
# UTF-8 restricts only the byte after E0, ED, F0 and F4 (no overlong forms, no surrogates, <= U+10FFFF).
START = (0, 0x80, 0xBF)
_FIRST_AFTER = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}

# C0 controls (0x00-0x1F) and DEL (0x7F) never appear in an answer; tab and newline are layout and stay.
# Carriage return is masked too: answers separate lines with "\n" alone (the templates and the datasets
# do), and a lone "\r" returns a terminal's cursor to the line start, so the CLI would overwrite what it
# has printed. In UTF-8 these bytes never occur inside a multi-byte character, so masking them masks only
# the control characters themselves (C1 controls U+0080-U+009F are left as they are).
CONTROL_BYTES = (frozenset(range(0x20)) - {0x09, 0x0A}) | {0x7F}


def step(state: tuple, data: bytes) -> tuple | None:
    """The state after ``data``, or None when ``data`` cannot continue valid UTF-8 from ``state``."""
    need, low, high = state
    for byte in data:
        if need:
            if not low <= byte <= high:
                return None
            need, low, high = need - 1, 0x80, 0xBF
        elif byte < 0x80:
            continue
        elif 0xC2 <= byte <= 0xDF:
            need = 1
        elif 0xE0 <= byte <= 0xEF:
            need = 2
            low, high = _FIRST_AFTER.get(byte, (0x80, 0xBF))
        elif 0xF0 <= byte <= 0xF4:
            need = 3
            low, high = _FIRST_AFTER.get(byte, (0x80, 0xBF))
        else:  # a continuation byte where a character starts, C0, C1 or F5-FF
            return None
    return (need, low, high)


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-to-printable-character table, inverted (what byte-level BPE token strings spell)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def token_bytes(tokenizer) -> list[bytes | None] | None:
    """The bytes each token id stands for (None: a special token such as eos), or None when the
    tokenizer is not byte-level (its tokens are whole characters already)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        decoder = json.loads(backend.to_str()).get("decoder") or {}
    except Exception:
        return None
    kinds = {decoder.get("type")} | {d.get("type") for d in decoder.get("decoders", []) or []}
    if "ByteLevel" not in kinds:
        return None
    table = _byte_decoder()
    special = set(tokenizer.all_special_ids)
    size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
    out: list[bytes | None] = [None] * size
    for token, index in tokenizer.get_vocab().items():
        if index in special:
            continue
        if all(ch in table for ch in token):
            out[index] = bytes(table[ch] for ch in token)
        else:  # an added token (vocabulary extension): stored as its text
            out[index] = token.encode("utf-8")
    return out


def has_control(data: bytes) -> bool:
    """Whether ``data`` holds a control byte an answer must not show (``CONTROL_BYTES``)."""
    return not CONTROL_BYTES.isdisjoint(data)


def is_blank(data: bytes) -> bool:
    """Whether a token's bytes show nothing: ASCII whitespace only, or whole whitespace characters (U+3000)."""
    if not data.strip(b" \t\n"):
        return True
    try:
        return data.decode("utf-8").isspace()
    except UnicodeDecodeError:  # part of a character: the character it starts or ends is not blank here
        return False


class Utf8Masks:
    """Per state (at most eight exist), the token ids that cannot continue valid UTF-8 or hold a control
    character, and the state each other id leads to; and, before an answer's first visible character, the
    ids that show nothing (end of text, whitespace). Built on first use and kept with the loaded model."""

    def __init__(self, tokenizer, table: list[bytes | None]):
        self.table = table
        self.special = set(tokenizer.all_special_ids)
        self._cache: dict = {}
        self._blank: set[int] | None = None

    def blank_ids(self) -> set[int]:
        """The ids that show nothing: special tokens and whitespace-only tokens."""
        if self._blank is None:
            self._blank = {i for i, data in enumerate(self.table) if data is None or is_blank(data)}
        return self._blank

    def get(self, state: tuple, vocab: int, device, blank: bool = False):
        """(forbidden ids as a bool mask, the state each allowed id leads to) in UTF-8 state ``state``;
        ``blank``: the answer shows nothing yet, so the ids that show nothing are forbidden too."""
        key = (state, vocab, str(device), blank)
        if key not in self._cache:
            import torch

            if blank:
                forbidden, following = self.get(state, vocab, "cpu")
                forbidden = forbidden.clone()
                nothing = [i for i in self.blank_ids() if i < vocab]
                forbidden[nothing] = True
                self._cache[key] = (forbidden.to(device), following)
                return self._cache[key]
            forbidden = torch.zeros(vocab, dtype=torch.bool)
            following: dict[int, tuple] = {}
            for index in range(vocab):
                data = self.table[index] if index < len(self.table) else None
                if data is None:
                    # special tokens (eos) only between characters; ids past the tokenizer never
                    forbidden[index] = state != START or index not in self.special
                    following[index] = START
                    continue
                after = None if has_control(data) else step(state, data)
                if after is None:
                    forbidden[index] = True
                else:
                    following[index] = after
            self._cache[key] = (forbidden.to(device), following)
        return self._cache[key]


class Utf8Guard:
    """A ``LogitsProcessor`` for one ``generate`` call: masks the tokens that would make an answer's bytes
    invalid UTF-8 or hold a control character, and those that would leave it blank (one in-place fill per
    row and step)."""

    def __init__(self, masks: Utf8Masks):
        self.masks = masks
        self.rows: list | None = None
        self.blank: list[bool] = []

    def __call__(self, input_ids, scores):
        vocab = scores.shape[-1]
        if self.rows is None:  # the first step: the prompt ends between characters, nothing shown yet
            self.rows = [START] * input_ids.shape[0]
            self.blank = [True] * input_ids.shape[0]
        else:
            nothing = self.masks.blank_ids()
            for row, token in enumerate(input_ids[:, -1].tolist()):
                _, following = self.masks.get(self.rows[row], vocab, scores.device)
                self.rows[row] = following.get(token, START)
                self.blank[row] = self.blank[row] and token in nothing
        for row, state in enumerate(self.rows):
            forbidden, _ = self.masks.get(state, vocab, scores.device, self.blank[row])
            scores[row].masked_fill_(forbidden, float("-inf"))
        return scores


def drop_incomplete_tail(text: str) -> str:
    """``text`` without the replacement characters an unfinished last character decodes to."""
    return text.rstrip(REPLACEMENT)
