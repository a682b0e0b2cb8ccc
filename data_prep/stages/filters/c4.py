"""C4 cleaning rules (Raffel et al. 2020, as implemented for C4 and reused by FineWeb).

Line rules drop single lines: a word over ``max_word_length`` characters, no terminal punctuation
(optional), fewer than ``min_words_per_line`` words, "javascript", cookie/policy notices. Document rules
reject the whole document: "lorem ipsum" or "{" in a kept line, fewer than ``min_sentences`` sentences in
the kept lines. Wikipedia-style citations ("[1]", "[edit]") are removed from kept lines. Rules apply in
that order to each line, so a line already dropped cannot reject its document.
"""

from __future__ import annotations

import re
from dataclasses import replace

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import C4Config
from data_prep.stages.filters.language import ENGLISH, Language
from data_prep.stages.filters.words import count_sentences

_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_LINE_END = (".", "?", "!", '"', "'")


class C4Filter(Stage):
    name = "c4"

    def __init__(self, cfg: C4Config, language: Language = ENGLISH) -> None:
        self.cfg = cfg
        self.words = language.words
        self.line_words = str.split if language.segmenter == "rules" else language.words  # C4: whitespace
        self.sentence_end = frozenset(language.terminal_punctuation)
        self.policy = tuple(p.lower() for p in cfg.policy_phrases) if cfg.drop_policy_lines else ()

    def process(self, doc: Document, stats: Stats) -> Document | str:
        reason, text, dropped = self.check(doc.text)
        if reason is not None:
            return reason
        if dropped:
            stats.count("c4/lines_dropped", dropped)
        return doc if text == doc.text else replace(doc, text=text)

    def _drop_line(self, line: str, words: list[str]) -> bool:
        cfg = self.cfg
        if cfg.max_word_length >= 0 and max(map(len, words), default=0) > cfg.max_word_length:
            return True
        if cfg.filter_no_terminal_punct and (not line.endswith(_LINE_END) or line.endswith("...")):
            return True
        return len(words) < cfg.min_words_per_line

    def check(self, text: str) -> tuple[str | None, str, int]:
        """(rejection reason or None, text with dropped lines removed, number of dropped lines)."""
        cfg = self.cfg
        kept: list[str] = []
        sentences = dropped = 0
        for raw in text.splitlines():
            line = raw.strip()
            words = self.line_words(line)
            if cfg.remove_citations:
                line = _CITATION.sub("", line)
            if self._drop_line(line, words):
                dropped += 1
                continue
            lower = line.lower()
            if cfg.drop_lorem_ipsum and "lorem ipsum" in lower:
                return "lorem_ipsum", text, dropped
            if cfg.drop_javascript_lines and "javascript" in lower:
                dropped += 1
                continue
            if cfg.drop_curly_bracket and "{" in line:
                return "curly_bracket", text, dropped
            if self.policy and any(p in lower for p in self.policy):
                dropped += 1
                continue
            if cfg.min_sentences > 0:
                sentences += count_sentences(self.words(line), self.sentence_end)
            kept.append(line)
        if sentences < cfg.min_sentences:
            return "too_few_sentences", text, dropped
        return None, "\n".join(kept).strip(), dropped
