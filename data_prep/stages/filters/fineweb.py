"""FineWeb's additional quality rules: terminal punctuation, short lines, duplicated lines, list-likeness.

Lines are the non-blank lines of ``text.split("\\n")`` (kept unstripped), as in the FineWeb reference.
"""

from __future__ import annotations

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import FineWebConfig
from data_prep.stages.filters.language import ENGLISH, Language
from data_prep.stages.filters.textview import view


def duplicate_stats(items: list[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters), counting every repeat after the first."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


class FineWebFilter(Stage):
    name = "fineweb"

    def __init__(self, cfg: FineWebConfig, language: Language = ENGLISH) -> None:
        self.cfg = cfg
        self.words = language.words
        self.terminal_punctuation = language.terminal_punctuation

    def process(self, doc: Document, stats: Stats) -> Document | str:
        reason = self.check(doc.text)
        return doc if reason is None else reason

    def check(self, text: str) -> str | None:
        cfg = self.cfg
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return "empty"
        n_lines = len(lines)
        if sum(line.endswith(self.terminal_punctuation) for line in lines) / n_lines < cfg.min_terminal_punct_lines:
            return "terminal_punct_lines"
        limit = cfg.short_line_chars
        if sum(len(line) <= limit for line in lines) / n_lines > cfg.max_short_lines:
            return "short_lines"
        newlines = text.count("\n")
        if duplicate_stats(lines)[1] / max(len(text) - newlines, 1) > cfg.max_dup_line_char_frac:
            return "dup_line_chars"
        if newlines / max(len(view(text, self.words).words), 1) > cfg.max_newline_word_ratio:
            return "newline_ratio"
        return None
