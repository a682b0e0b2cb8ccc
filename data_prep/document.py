"""Contract 1: the Document that flows through every data_prep stage, and its rejection accounting.

Every rejection is counted as ``stage/reason`` so that ``docs_in == docs_written + sum(rejected)`` always
holds; the stage interface itself is ``data_prep.stages.base.Stage``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Document:
    id: str  # stable: source name + position, so reruns give the same ids
    text: str
    source: str
    license: str
    url: str | None = None
    synthetic: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stats:
    """Counters of one task; merged across tasks by summing."""

    docs_in: int = 0
    docs_written: int = 0
    rejected: Counter = field(default_factory=Counter)  # "stage/reason" -> count
    counters: Counter = field(default_factory=Counter)  # anything else worth reporting (pii/email, ...)

    def reject(self, stage: str, reason: str, n: int = 1) -> None:
        self.rejected[f"{stage}/{reason}"] += n

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def merge(self, other: Stats) -> None:
        self.docs_in += other.docs_in
        self.docs_written += other.docs_written
        self.rejected.update(other.rejected)
        self.counters.update(other.counters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_written": self.docs_written,
            "rejected": dict(sorted(self.rejected.items())),
            "counters": dict(sorted(self.counters.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        return cls(
            docs_in=data.get("docs_in", 0),
            docs_written=data.get("docs_written", 0),
            rejected=Counter(data.get("rejected", {})),
            counters=Counter(data.get("counters", {})),
        )
