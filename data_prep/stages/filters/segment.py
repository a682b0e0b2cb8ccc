"""Word segmentation per language, shared by every word-based stage.

Gopher, FineWeb and C4 rules, MinHash shingles and decontamination n-grams count *words*. For languages
written with spaces the rule-based splitter of ``words.py`` is right (its thresholds were tuned on that
kind of tokenisation). Chinese has no spaces, so whitespace splitting would see a paragraph as one word;
``jieba`` segments it into dictionary words, as datatrove / FineWeb-2 do for ``cmn_Hani``.

Why rjieba: it binds the Rust port of jieba with the same dictionary and the same default (HMM on)
algorithm; on our Chinese bench text it gave token-for-token the same output as jieba 0.42 and ran ~7x
faster, with no 0.7 s dictionary build at first use (bench/segmenters.py prints both).

``pipeline.segmenter`` picks one by name; an unknown name fails at start with the allowed values.
"""

from __future__ import annotations

from collections.abc import Callable

from data_prep.filters.words import WordSplitter

SEGMENTERS = ("rules", "jieba")
WordsFn = Callable[[str], list[str]]


class JiebaSegmenter:
    """Chinese words (jieba's dictionary + HMM for unknown words); whitespace is never a word."""

    def __init__(self) -> None:
        import rjieba

        self._cut = rjieba.cut

    def words(self, text: str) -> list[str]:
        return [w for w in (t.strip() for t in self._cut(text)) if w]


_instances: dict[str, object] = {}


def get_segmenter(name: str) -> WordsFn:
    """The ``words(text)`` function of segmenter ``name`` (one instance per process)."""
    from openpretrain.errors import ConfigError

    if name not in SEGMENTERS:
        raise ConfigError("pipeline.segmenter", f"unknown {name!r}; allowed: {', '.join(SEGMENTERS)}")
    if name not in _instances:
        _instances[name] = JiebaSegmenter() if name == "jieba" else WordSplitter()
    return _instances[name].words


def spaced(text: str, words: WordsFn) -> str:
    """The text with its words separated by single spaces: what n-gram stages (MinHash, decontamination)
    split on whitespace."""
    return " ".join(words(text))
