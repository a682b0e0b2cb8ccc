"""Gopher (MassiveText) quality heuristics: document length, word length, symbols, bullets, stop words.

Semantics follow the reference implementation used for FineWeb so published thresholds keep their meaning:
"words" are the tokens of ``data_prep.stages.filters.words``; length limits and the mean word length count only
tokens with a letter or digit, the symbol and letter ratios divide by all tokens, stop words are matched
case-sensitively, and lines are ``str.splitlines()``.
"""

from __future__ import annotations

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import GopherQualityConfig
from data_prep.stages.filters.language import ENGLISH, Language
from data_prep.stages.filters.textview import token_flags, view

_ELLIPSES = ("...", "…")


class GopherQualityFilter(Stage):
    name = "gopher_quality"

    def __init__(self, cfg: GopherQualityConfig, language: Language = ENGLISH) -> None:
        self.cfg = cfg
        self.words = language.words
        self.stop_words = frozenset(cfg.stop_words)
        self.bullets = tuple(cfg.bullet_prefixes)

    def process(self, doc: Document, stats: Stats) -> Document | str:
        reason = self.check(doc.text)
        return doc if reason is None else reason

    def check(self, text: str) -> str | None:
        """The first rule the text breaks, or None."""
        cfg = self.cfg
        tv = view(text, self.words)
        counts = tv.word_counts
        n_tokens = len(tv.words)
        n_words = chars = n_alpha = 0
        for token, count in counts.items():
            flags = token_flags(token)
            if flags & 1:
                n_words += count
                chars += len(token) * count
            if flags & 2:
                n_alpha += count
        if n_words < cfg.min_words:
            return "too_few_words"
        if n_words > cfg.max_words:
            return "too_many_words"
        if n_words:
            mean_length = chars / n_words
            if mean_length < cfg.min_mean_word_length:
                return "short_mean_word_length"
            if mean_length > cfg.max_mean_word_length:
                return "long_mean_word_length"
        tokens = max(n_tokens, 1)
        if text.count("#") / tokens > cfg.max_hash_ratio:
            return "hash_ratio"
        if (text.count("...") + text.count("…")) / tokens > cfg.max_ellipsis_ratio:
            return "ellipsis_ratio"
        lines = text.splitlines() or [""]
        if sum(line.lstrip().startswith(self.bullets) for line in lines) / len(lines) > cfg.max_bullet_lines_ratio:
            return "bullet_lines"
        if sum(line.rstrip().endswith(_ELLIPSES) for line in lines) / len(lines) > cfg.max_ellipsis_lines_ratio:
            return "ellipsis_lines"
        if n_tokens and n_alpha / n_tokens < cfg.min_alpha_words_ratio:
            return "alpha_words"
        if len(self.stop_words.intersection(counts)) < cfg.min_stop_words:
            return "stop_words"
        return None
