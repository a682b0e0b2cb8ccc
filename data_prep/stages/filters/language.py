"""The pipeline's language: how its text splits into words and which characters end a sentence.

Gopher, FineWeb and C4 rules, MinHash shingles, decontamination n-grams, bad-word ratios and bias counts
all count *words*. For languages written with spaces the rule-based splitter of ``words.py`` is right
(the published thresholds were tuned on that kind of tokenisation). Chinese has no spaces, so whitespace
splitting would see a paragraph as one word; ``jieba`` segments it into dictionary words, as datatrove /
FineWeb-2 do for ``cmn_Hani``.

Why rjieba: it binds the Rust port of jieba with the same dictionary and the same default algorithm
(HMM on). On the Chinese bench corpus (bench/zh_throughput.py) it gives exactly jieba 0.42's Chinese
words on every document and runs ~25x faster, with no 0.7 s dictionary build at first use; the two
differ only on ASCII runs with inner punctuation ("2.x", "CTRL-G": rjieba keeps them whole).

A language is configuration, not code: ``pipeline.language`` (ISO 639-1, checked against the language
id model), ``pipeline.segmenter`` (``rules`` | ``jieba``) and ``pipeline.terminal_punctuation_extra``
(sentence-final characters beyond the Unicode set every language shares, e.g. "…" for Chinese).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from data_prep.stages.filters.words import TERMINAL_PUNCTUATION, WordsFn, WordSplitter
from openpretrain.errors import ConfigError

SEGMENTERS = ("rules", "jieba")


class JiebaSegmenter:
    """Chinese words (jieba's dictionary + HMM for unknown words); whitespace is never a word."""

    def __init__(self) -> None:
        import rjieba

        self._cut = rjieba.cut

    def words(self, text: str) -> list[str]:
        return [w for w in (t.strip() for t in self._cut(text)) if w]


_segmenters: dict[str, Any] = {}


def get_segmenter(name: str) -> WordsFn:
    """The ``words(text)`` function of segmenter ``name`` (one instance per process)."""
    if name not in SEGMENTERS:
        raise ConfigError("pipeline.segmenter", f"unknown {name!r}; allowed: {', '.join(SEGMENTERS)}")
    if name not in _segmenters:
        _segmenters[name] = JiebaSegmenter() if name == "jieba" else WordSplitter()
    return _segmenters[name].words


@dataclass(frozen=True)
class Language:
    code: str
    segmenter: str = "rules"
    terminal_punctuation_extra: tuple[str, ...] = ()

    @cached_property
    def words(self) -> WordsFn:
        return get_segmenter(self.segmenter)

    @cached_property
    def terminal_punctuation(self) -> tuple[str, ...]:
        return TERMINAL_PUNCTUATION + tuple(p for p in self.terminal_punctuation_extra if p not in TERMINAL_PUNCTUATION)

    def spaced(self, text: str) -> str:
        """The text with its words separated by single spaces, for stages that split n-grams on whitespace
        (MinHash, decontamination); unchanged for space-separated languages."""
        return text if self.segmenter == "rules" else " ".join(self.words(text))


ENGLISH = Language("en")


def language_of(pipeline_cfg: Any) -> Language:
    return Language(pipeline_cfg.language, pipeline_cfg.segmenter, tuple(pipeline_cfg.terminal_punctuation_extra))


def words_for_language(code: str, pipeline_cfg: Any) -> WordsFn:
    """Words of text in language ``code``: the pipeline's segmenter for its own language, jieba for
    Chinese, the rule-based splitter otherwise."""
    if code == pipeline_cfg.language:
        return get_segmenter(pipeline_cfg.segmenter)
    return get_segmenter("jieba" if code == "zh" else "rules")
