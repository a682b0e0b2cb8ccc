"""Decontamination: drop (or flag) training documents that share word n-grams with evaluation texts.

Evaluation texts come from files named in ``pipeline.decontam.eval_paths`` (globs allowed): ``.txt`` files
hold one text per line, ``.jsonl`` / ``.jsonl.gz`` files one JSON object per line whose string fields
(question, choices, answer, ...) are all taken. Texts are normalised (lower case, words = runs of letters
and digits) and cut into ``ngram``-word windows; a text shorter than that is matched whole when it has at
least ``min_words`` words (as GPT-3 decontamination does for short items), shorter ones are ignored. A document with at least ``min_matches`` of those n-grams is
"decontam/contaminated" (mode=drop) or gets ``meta["contaminated_ngrams"]`` (mode=flag); the count of
contaminated documents is always ``decontam/contaminated_docs``.

N-grams are 64-bit hashes: each word hashed once (xxh3), combined by a polynomial over the window, and
looked up with a sorted array and ``np.searchsorted`` — no Python loop over n-grams.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import xxhash

from data_prep.document import Document, Stats
from data_prep.sources.local import expand_paths
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import DecontamConfig
from data_prep.stages.filters.language import ENGLISH, Language
from openpretrain.errors import UserError

_WORD = re.compile(r"[^\W_]+")
_BASE = np.uint64(0x100000001B3)  # odd multiplier combining word hashes
_MAX_WORD_CACHE = 500_000  # bounded per-process cache of word hashes (memory stays ~50 MB)


def normalized_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _word_hashes(words: list[str], cache: dict[str, int]) -> np.ndarray:
    for word in set(words).difference(cache):
        cache[word] = xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"))
    return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def ngram_hashes(words: list[str], n: int, cache: dict[str, int]) -> np.ndarray:
    """Hashes of all n-word windows."""
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    hashes = _word_hashes(words, cache)
    count = len(hashes) - n + 1
    combined = hashes[:count].copy()
    for offset in range(1, n):
        combined = combined * _BASE + hashes[offset:offset + count]
    return combined


def _iter_file(path: str) -> Iterator[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        if ".jsonl" in path or ".json" in path:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"pipeline.decontam.eval_paths: {path}:{line_no} is not JSON ({exc.msg})") from exc
                values = record.values() if isinstance(record, dict) else [record]
                yield " ".join(_strings(values))
        else:
            yield from (line for line in f if line.strip())


def _strings(values) -> Iterator[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _strings(value)
        elif isinstance(value, dict):
            yield from _strings(value.values())


def eval_files(patterns: list[str]) -> list[str]:
    return expand_paths(patterns, "pipeline.decontam.eval_paths", what="evaluation file")


class Decontaminator(Stage):
    name = "decontam"

    def __init__(self, cfg: DecontamConfig, language: Language = ENGLISH) -> None:
        self.cfg = cfg
        self.spaced = language.spaced  # Chinese: words separated by spaces before normalising
        self._cache: dict[str, int] = {}
        parts: dict[int, list[np.ndarray]] = {}  # window length -> hashes
        for path in eval_files(cfg.eval_paths):
            for text in _iter_file(path):
                words = normalized_words(self.spaced(text))
                n = min(cfg.ngram, len(words))
                if n >= cfg.min_words:
                    parts.setdefault(n, []).append(ngram_hashes(words, n, self._cache))
        self.index = {n: np.unique(np.concatenate(arrays)) for n, arrays in sorted(parts.items())}
        self.eval_ngrams = sum(len(a) for a in self.index.values())

    def matches(self, text: str) -> int:
        """Number of the text's n-gram windows that occur in the evaluation texts."""
        if not self.index:
            return 0
        if len(self._cache) > _MAX_WORD_CACHE:
            self._cache.clear()
        words = normalized_words(self.spaced(text))
        found = 0
        for n, index in self.index.items():
            hashes = ngram_hashes(words, n, self._cache)
            pos = np.searchsorted(index, hashes)
            pos[pos == len(index)] = 0
            found += int(np.count_nonzero(index[pos] == hashes))
        return found

    def process(self, doc: Document, stats: Stats) -> Document | str:
        found = self.matches(doc.text)
        if found < self.cfg.min_matches:
            return doc
        stats.count("decontam/contaminated_docs")
        if self.cfg.mode == "drop":
            return "contaminated"
        return replace(doc, meta={**doc.meta, "contaminated_ngrams": found})
