"""Writing-system statistics: how many characters of a text belong to Han, Kana, Hangul, ... .

Used by the script filter (Chinese corpora keep documents with a minimum share of Han characters) and by
language id (a Chinese page with English product names is still Chinese; see ``cjk_share``).
"""

from __future__ import annotations

import re

# Unicode blocks of each script (the letters of a language written in it; punctuation is not counted).
SCRIPT_CLASSES = {
    "Han": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f",
    "Hiragana": "\u3040-\u309f",
    "Katakana": "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d",
    "Hangul": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "Latin": "A-Za-z\u00c0-\u024f\u1e00-\u1eff",
    "Cyrillic": "\u0400-\u04ff",
    "Arabic": "\u0600-\u06ff\u0750-\u077f",
    "Devanagari": "\u0900-\u097f",
}
SCRIPTS = tuple(SCRIPT_CLASSES)
_RUNS = {name: re.compile(f"[{chars}]+") for name, chars in SCRIPT_CLASSES.items()}
_CJK = re.compile(f"[{SCRIPT_CLASSES['Han']}{SCRIPT_CLASSES['Hiragana']}{SCRIPT_CLASSES['Katakana']}"
                  f"{SCRIPT_CLASSES['Hangul']}]+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")


def script_chars(text: str, script: str) -> int:
    """Characters of ``text`` in ``script`` (a key of SCRIPT_CLASSES)."""
    return sum(map(len, _RUNS[script].findall(text)))


def letter_chars(text: str) -> int:
    """Letters of any script (what script shares are relative to)."""
    return sum(map(len, _LETTER_RUN.findall(text)))


def cjk_share(text: str) -> tuple[float, str]:
    """(share of the text's language content that is CJK, the CJK characters alone).

    The share weighs one CJK character against one word of any other script: a Han character carries
    about a word's worth of meaning, while an English word is several letters. So a Chinese article
    with a few English names scores close to 1, and an English article quoting a Chinese name close to 0.
    """
    cjk_runs = _CJK.findall(text)
    cjk = sum(map(len, cjk_runs))
    if not cjk:
        return 0.0, ""
    other_words = len(_LETTER_RUN.findall(_CJK.sub(" ", text)))
    return cjk / (cjk + other_words), "".join(cjk_runs)
