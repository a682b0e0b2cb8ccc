"""Phase 3 of dedup: the per-document stage that drops what the cluster step decided to remove."""

from __future__ import annotations

from collections.abc import Mapping

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import DedupConfig


def dedup_enabled(cfg: DedupConfig) -> bool:
    return bool(cfg.exact or cfg.near)


class DedupFilter(Stage):
    name = "dedup"

    def __init__(self, removed: Mapping[str, str]) -> None:
        self.removed = removed  # doc id -> "exact" | "near"

    def process(self, doc: Document, stats: Stats) -> Document | str:
        return self.removed.get(doc.id, doc)
