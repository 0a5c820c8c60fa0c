"""What ``textstats`` measures in a text."""

from __future__ import annotations

import unicodedata


def text_stats(text: str) -> dict:
    """Characters, words, lines and the share of CJK characters among the letters and digits."""
    letters = [ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] in "LN"]
    cjk = [ch for ch in letters if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"]
    return {
        "characters": len(text),
        "words": len(text.split()),
        "lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        "cjk_share": round(len(cjk) / len(letters), 4) if letters else 0.0,
    }
