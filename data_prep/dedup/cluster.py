"""Phase 2 of dedup: one step over all signature files of a run decides which documents to remove.

Exact: documents with the same normalised-text hash form a group. Near: among the documents left, two
with an equal band key in any band are joined (union-find), so clusters are the connected components.
Each group / cluster keeps the document with the smallest id (string order), so the decision does not
depend on how the input was split into tasks or on the order files are given in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from data_prep.stages.dedup_signature import load_signatures
from data_prep.stages.filters.config import DedupConfig
from openpretrain.errors import UserError

EXACT, NEAR = "exact", "near"


class _UnionFind:
    """Roots are always the smallest index of their set."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self.parent[hi] = lo


def _load_all(files: Iterable[str | Path], cfg: DedupConfig) -> dict[str, np.ndarray]:
    parts = [load_signatures(f, cfg) for f in sorted(map(str, files))]
    if not parts:
        return {"ids": np.array([], dtype=str), "exact": np.zeros((0, 2), np.uint64),
                "bands": np.zeros((0, cfg.bands), np.uint64), "has_words": np.zeros(0, bool)}
    ids = np.concatenate([p["ids"] for p in parts])
    order = np.argsort(ids, kind="stable")  # index order == id order, so "smallest index" == "smallest id"
    ids = ids[order]
    if len(ids) > 1 and (dup := np.nonzero(ids[1:] == ids[:-1])[0]).size:
        raise UserError(f"dedup: document id {str(ids[dup[0]])!r} appears in more than one signature record")
    return {
        "ids": ids,
        "exact": np.concatenate([p["exact"] for p in parts])[order],
        "bands": np.concatenate([p["bands"] for p in parts])[order],
        "has_words": np.concatenate([p["has_words"] for p in parts])[order],
    }


def _exact_duplicates(exact: np.ndarray) -> np.ndarray:
    """Mask of documents whose exact hash already occurs at a smaller index."""
    order = np.lexsort((np.arange(len(exact)), exact[:, 1], exact[:, 0]))
    same = np.all(exact[order[1:]] == exact[order[:-1]], axis=1)
    mask = np.zeros(len(exact), dtype=bool)
    mask[order[1:][same]] = True
    return mask


def _near_duplicates(bands: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Mask of candidate documents that are not the smallest index of their LSH cluster."""
    index = np.nonzero(candidates)[0]
    uf = _UnionFind(len(bands))
    for band in range(bands.shape[1]):
        keys = bands[index, band]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        equal = np.nonzero(sorted_keys[1:] == sorted_keys[:-1])[0]
        for pos in equal.tolist():
            uf.union(int(index[order[pos]]), int(index[order[pos + 1]]))
    mask = np.zeros(len(bands), dtype=bool)
    for i in index.tolist():
        if uf.find(i) != i:
            mask[i] = True
    return mask


def cluster(signature_files: Iterable[str | Path], cfg: DedupConfig) -> dict[str, str]:
    """Ids to remove from the whole run -> reason ("exact" or "near")."""
    data = _load_all(signature_files, cfg)
    ids = data["ids"]
    removed: dict[str, str] = {}
    alive = np.ones(len(ids), dtype=bool)
    if cfg.exact and len(ids):
        exact_dup = _exact_duplicates(data["exact"])
        removed.update((str(i), EXACT) for i in ids[exact_dup])
        alive &= ~exact_dup
    if cfg.near and len(ids):
        near_dup = _near_duplicates(data["bands"], alive & data["has_words"])
        removed.update((str(i), NEAR) for i in ids[near_dup])
    return removed


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
