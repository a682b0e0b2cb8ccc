"""Harmful-content word lists per language: LDNOOBW (CC BY 4.0, vendored in ``ldnoobw/`` with its
licence and attribution; never downloaded), plus optional extra list files.

Matching: languages written with spaces match whole words, case-insensitively (as C4 did with the
English list). Chinese and Japanese (``UNSPACED``) match inside text, since there are no word boundaries;
there, single-character terms (性, 奶, 乳, ... — parts of everyday words like 性能, 牛奶) and terms without
a letter ("13.") are skipped, and an ``allowlist`` of everyday words that contain a listed term
(他妈妈 "his mother", 刚度 "stiffness") is blanked out before matching.

Modes: ``drop`` rejects a document with any hit (``bad_words/hit``, C4's rule); ``ratio`` rejects when
hits per word exceed ``max_ratio`` (``bad_words/ratio``). Every matched term is counted
(``bad_words/term/<lang>/<term>``) and the matched terms of a rejected document are its
``reject_detail``, which ``rejects=true`` writes beside the rejection so a person can audit the list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from importlib import resources
from typing import Any

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.scripts import letter_chars

UNSPACED = frozenset({"zh", "ja", "th"})
BAD_WORD_MODES = ("drop", "ratio")
_NOT_LISTS = frozenset({"LICENSE", "ATTRIBUTION.md"})


def available_languages() -> list[str]:
    folder = resources.files("data_prep.stages.filters") / "ldnoobw"
    return sorted(p.name for p in folder.iterdir() if p.name not in _NOT_LISTS)


def load_terms(language: str, extra_files: list[str]) -> list[str]:
    folder = resources.files("data_prep.stages.filters") / "ldnoobw"
    terms = folder.joinpath(language).read_text(encoding="utf-8").splitlines()
    for path in extra_files:
        with open(path, encoding="utf-8") as fh:
            terms.extend(fh.read().splitlines())
    return [t.strip() for t in terms if t.strip()]


def _usable(term: str, unspaced: bool) -> bool:
    return letter_chars(term) > 0 and (not unspaced or len(term) >= 2)


def _alternation(terms: list[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))


class BadWordsFilter(Stage):
    name = "bad_words"

    def __init__(self, cfg: Any, words: Callable[[str], list[str]] = str.split) -> None:
        self.cfg = cfg
        self.words = words
        self.matchers: list[tuple[str, re.Pattern]] = []
        for language in cfg.languages:
            unspaced = language in UNSPACED
            terms = [t for t in load_terms(language, list(cfg.extra_lists)) if _usable(t, unspaced)]
            body = _alternation(terms)
            pattern = f"(?:{body})" if unspaced else rf"(?<!\w)(?:{body})(?!\w)"
            self.matchers.append((language, re.compile(pattern, re.IGNORECASE)))
        allow = [t for t in cfg.allowlist if t.strip()]
        self.allow = re.compile(_alternation(allow), re.IGNORECASE) if allow else None
        self.reject_detail: str | None = None

    def hits(self, text: str) -> Counter:
        """(language, term) -> occurrences, after blanking allowlisted words."""
        if self.allow is not None:
            text = self.allow.sub(lambda m: " " * len(m.group()), text)
        found: Counter = Counter()
        for language, pattern in self.matchers:
            found.update((language, m.group().lower()) for m in pattern.finditer(text))
        return found

    def process(self, doc: Document, stats: Stats) -> Document | str:
        self.reject_detail = None
        found = self.hits(doc.text)
        if not found:
            return doc
        for (language, term), n in found.items():
            stats.count(f"bad_words/term/{language}/{term}", n)
        total = sum(found.values())
        if self.cfg.mode == "drop":
            reason = "hit"
        elif total / max(len(self.words(doc.text)), 1) > self.cfg.max_ratio:
            reason = "ratio"
        else:
            return doc
        self.reject_detail = "matched: " + ", ".join(f"{term} x{n}" for (_, term), n in found.most_common(10))
        return reason
