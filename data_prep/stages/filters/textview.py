"""Per-document views shared between filters, so a document is tokenised once however many filters run.

``view(text, words)`` returns the cached view of the text seen last when it is the same string object
split by the same segmenter (``words``: the pipeline language's words function, stages/filters/language.py);
a stage that rewrites a document (C4 line removal, PII scrubbing) produces a new string and so a fresh view.
"""

from __future__ import annotations

import re
from collections import Counter

from data_prep.stages.filters.words import WordsFn, WordSplitter

_ALNUM = re.compile(r"[^\W_]")
_ALPHA = re.compile(r"[^\W\d_]")
_splitter = WordSplitter()
# token -> bit flags (1: has a letter or digit, i.e. not a symbol-only token; 2: has a letter)
_token_flags: dict[str, int] = {}
_MAX_FLAGS = 300_000


def token_flags(token: str) -> int:
    flags = _token_flags.get(token)
    if flags is None:
        if token.isalpha():
            flags = 3
        else:
            flags = (1 if _ALNUM.search(token) else 0) | (2 if _ALPHA.search(token) else 0)
        if len(_token_flags) >= _MAX_FLAGS:
            _token_flags.clear()
        _token_flags[token] = flags
    return flags


class TextView:
    """Lazily computed views of one text."""

    __slots__ = ("text", "split", "_words", "_counts")

    def __init__(self, text: str, split: WordsFn) -> None:
        self.text = text
        self.split = split
        self._words: list[str] | None = None
        self._counts: Counter | None = None

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = self.split(self.text)
        return self._words

    @property
    def word_counts(self) -> Counter:
        """Occurrences of each distinct token, in first-occurrence order."""
        if self._counts is None:
            self._counts = Counter(self.words)
        return self._counts


_last: TextView | None = None


def view(text: str, words: WordsFn | None = None) -> TextView:
    """The (cached) view of ``text`` split by ``words`` (default: the rule-based splitter of words.py)."""
    global _last
    split = words or _splitter.words
    if _last is None or _last.text is not text or _last.split != split:
        _last = TextView(text, split)
    return _last
