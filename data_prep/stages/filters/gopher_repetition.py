"""Gopher (MassiveText) repetition heuristics: duplicated lines/paragraphs and repeated word n-grams.

Definitions (as in the FineWeb reference, so the published thresholds apply unchanged):
- paragraphs are ``text.strip()`` split on two or more newlines, lines are ``text`` split on newlines;
  a duplicate is any occurrence after the first, its characters count towards the char fraction.
- top n-gram: the most frequent word n-gram (ties: the first to occur), weighed as
  count x length of the n-gram joined by single spaces, divided by the text length.
- duplicated n-grams: a left-to-right scan that, on an n-gram already seen, counts its characters
  (words joined without spaces) and jumps past it; n-grams inside a jump are not remembered.

The n-gram work is vectorised: words become dense ids, each n-gram size gets exact dense ids by
ranking (previous id, next word id) pairs, and only n-grams that occur more than once are scanned.
"""

from __future__ import annotations

import re

import numpy as np

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import GopherRepetitionConfig
from data_prep.stages.filters.fineweb import duplicate_stats
from data_prep.stages.filters.language import ENGLISH, Language
from data_prep.stages.filters.textview import view

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAK = re.compile(r"\n+")


class _NGramIndex:
    """Exact dense ids of the word n-grams of one text, built incrementally for n = 1, 2, ..."""

    def __init__(self, words: list[str]) -> None:
        index: dict[str, int] = {}
        ids = [index.setdefault(w, len(index)) for w in words]
        self.word_ids = np.asarray(ids, dtype=np.int64)
        self.cum_len = np.concatenate(([0], np.cumsum([len(w) for w in words], dtype=np.int64)))
        self.n = 1
        self.ids = self.word_ids
        self.vocab = len(index)
        self.repeats = self.vocab < len(words)  # False: no n-gram of this or any larger size repeats

    def advance(self) -> None:
        """Move from n-grams to (n+1)-grams."""
        self.n += 1
        if not self.repeats:
            self.ids = np.arange(max(len(self.word_ids) - self.n + 1, 0), dtype=np.int64)
            return
        keys = self.ids[:-1] * (int(self.word_ids.max(initial=0)) + 1) + self.word_ids[self.n - 1:]
        uniq, inverse = np.unique(keys, return_inverse=True)
        self.ids = inverse.astype(np.int64, copy=False)
        self.vocab = len(uniq)
        self.repeats = self.vocab < len(keys)

    def chars(self, positions: np.ndarray | int) -> np.ndarray | int:
        """Characters of the n-grams starting at positions (words joined without separators)."""
        return self.cum_len[positions + self.n] - self.cum_len[positions]

    def top_weight(self) -> int:
        """count x spaced length of the most frequent n-gram (first occurring on ties)."""
        if len(self.ids) == 0:
            return 0
        if not self.repeats:
            return int(self.chars(0)) + self.n - 1
        counts = np.bincount(self.ids)
        best = counts.max()
        first_pos = np.full(len(counts), len(self.ids), dtype=np.int64)
        np.minimum.at(first_pos, self.ids, np.arange(len(self.ids)))
        pos = int(first_pos[counts == best].min())
        return int(best) * (int(self.chars(pos)) + self.n - 1)

    def duplicated_chars(self) -> int:
        """Characters covered by the greedy repeated-n-gram scan."""
        if not self.repeats or len(self.ids) == 0:
            return 0
        counts = np.bincount(self.ids)
        positions = np.nonzero(counts[self.ids] > 1)[0]
        ids = self.ids[positions].tolist()
        lengths = self.chars(positions).tolist()
        seen: set[int] = set()
        next_free = total = 0
        for pos, ngram, length in zip(positions.tolist(), ids, lengths):
            if pos < next_free:
                continue
            if ngram in seen:
                total += length
                next_free = pos + self.n
            else:
                seen.add(ngram)
        return total


class GopherRepetitionFilter(Stage):
    name = "gopher_repetition"

    def __init__(self, cfg: GopherRepetitionConfig, language: Language = ENGLISH) -> None:
        self.cfg = cfg
        self.words = language.words
        self.top = sorted((int(n), float(f)) for n, f in cfg.top_ngram_max_char_frac.items())
        self.dup = sorted((int(n), float(f)) for n, f in cfg.dup_ngram_max_char_frac.items())

    def process(self, doc: Document, stats: Stats) -> Document | str:
        reason = self.check(doc.text)
        return doc if reason is None else reason

    def check(self, text: str) -> str | None:
        if not text:
            return "empty"
        cfg = self.cfg
        size = len(text)
        paragraphs = _PARAGRAPH_BREAK.split(text.strip())
        dup_items, dup_chars = duplicate_stats(paragraphs)
        if dup_items / len(paragraphs) > cfg.max_dup_para_frac:
            return "dup_para_frac"
        if dup_chars / size > cfg.max_dup_para_char_frac:
            return "dup_para_char_frac"
        lines = _LINE_BREAK.split(text)
        dup_items, dup_chars = duplicate_stats(lines)
        if dup_items / len(lines) > cfg.max_dup_line_frac:
            return "dup_line_frac"
        if dup_chars / size > cfg.max_dup_line_char_frac:
            return "dup_line_char_frac"
        return self._check_ngrams(view(text, self.words).words, size)

    def _check_ngrams(self, words: list[str], size: int) -> str | None:
        rules = [(n, frac, "top") for n, frac in self.top] + [(n, frac, "dup") for n, frac in self.dup]
        ngrams = _NGramIndex(words)
        for n, frac, kind in sorted(rules, key=lambda r: (r[2] != "top", r[0])):
            if ngrams.n > n:
                ngrams = _NGramIndex(words)
            while ngrams.n < n:
                ngrams.advance()
            if kind == "top":
                if ngrams.top_weight() / size > frac:
                    return f"top_{n}_gram"
            elif ngrams.duplicated_chars() / size > frac:
                return f"dup_{n}_gram"
        return None
