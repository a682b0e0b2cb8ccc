"""Representation statistics: how often configurable term groups (e.g. female / male pronouns and
nouns) occur in the text the filters keep and in the text they reject, per language.

The design asks to measure, not to "fix": nothing is dropped or rebalanced here. If a filter removes a
larger share of one group's mentions than of another's (``rejected / (kept + rejected)`` per group),
the manifest's counters and the report's bias plot show it, and a person decides.

Terms are matched as whole words of the language's segmenter (so Chinese 他 does not count inside 其他
"other"), case-insensitively. Counters: ``bias/<lang>/<group>/kept`` and ``.../rejected`` (mentions),
``bias/<lang>/words/kept`` and ``.../rejected`` (all words, to compare rates per word).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

from data_prep.document import Document, Stats
from data_prep.stages.filters.textview import view


class BiasCounter:
    def __init__(self, groups: Mapping[str, Mapping[str, list[str]]], default_language: str,
                 words_for: Callable[[str], Callable[[str], list[str]]]) -> None:
        """groups: language -> group -> terms; words_for(language) -> that language's words function."""
        self.default_language = default_language
        self.term_group = {lang: {t.lower(): g for g, terms in by_group.items() for t in terms}
                           for lang, by_group in groups.items()}
        self.words_for = words_for

    def observe(self, doc: Document, kept: bool, stats: Stats, sign: int = 1) -> None:
        """Count ``doc``'s mentions on its side; ``sign=-1`` takes back an earlier count (a document kept
        by the filters and then removed by the whole-run dedup moves from kept to rejected)."""
        language = doc.meta.get("language", self.default_language)
        term_group = self.term_group.get(language)
        if not term_group:
            return
        words = view(doc.text, self.words_for(language)).words  # often already split by the last stage
        side = "kept" if kept else "rejected"
        mentions = Counter(term_group[w] for w in map(str.lower, words) if w in term_group)
        for group, n in mentions.items():
            stats.count(f"bias/{language}/{group}/{side}", sign * n)
        stats.count(f"bias/{language}/words/{side}", sign * len(words))


def bias_table(counters: Mapping[str, int]) -> dict[str, dict[str, dict[str, float]]]:
    """language -> group -> {kept, rejected, rejected_share, per_10k_words_kept, per_10k_words_rejected,
    words_rejected_share}; the last is the share of all the language's words in rejected text, the baseline
    a group's ``rejected_share`` is to be compared with."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for key, n in counters.items():
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "bias":
            continue
        _, language, group, side = parts
        table.setdefault(language, {}).setdefault(group, {"kept": 0, "rejected": 0})[side] = n
    for groups in table.values():
        words = groups.pop("words", {"kept": 0, "rejected": 0})
        all_words = words["kept"] + words["rejected"]
        for row in groups.values():
            row["words_rejected_share"] = words["rejected"] / all_words if all_words else 0.0
            total = row["kept"] + row["rejected"]
            row["rejected_share"] = row["rejected"] / total if total else 0.0
            for side in ("kept", "rejected"):
                row[f"per_10k_words_{side}"] = 1e4 * row[side] / words[side] if words[side] else 0.0
    return table
