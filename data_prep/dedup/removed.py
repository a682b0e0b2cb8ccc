"""The dedup decision of one task: ``removed-task-K.tsv``, one ``id<TAB>reason`` line per removed document."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

EXACT, NEAR = "exact", "near"


def write_removed(path: str | Path, removed: Mapping[str, str]) -> Path:
    """One ``id<TAB>reason`` line per removed document, sorted; written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for doc_id in sorted(removed):
            f.write(f"{doc_id}\t{removed[doc_id]}\n")
    os.replace(tmp, path)
    return path


def load_removed(path: str | Path) -> dict[str, str]:
    removed: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc_id, _, reason = line.rstrip("\n").rpartition("\t")
            removed[doc_id] = reason
    return removed
