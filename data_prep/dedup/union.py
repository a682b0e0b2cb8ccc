"""Dedup step 3, once: every bucket's groups -> the documents to remove, written per task.

Exact: each exact group keeps its smallest id (string order); the others are removed "exact" (set E).
Near: members in E leave their groups; the survivors of each group are joined in a chain (one group is
one band key, so the rest of it stays connected); the connected components (scipy's csgraph) keep their
smallest id, the others are removed "near". Ids are looked up only for documents that occur in a group,
from the signature files by position, so memory grows with the documents that have duplicates, not with
the run. Two records with one id are refused (an id names one document).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from data_prep.dedup.buckets import bucket_groups
from data_prep.dedup.layout import DedupDirs, doc_numbers_of_tasks, position_of
from data_prep.dedup.removed import EXACT, NEAR, write_removed
from data_prep.stages.filters.config import DedupConfig
from openpretrain.errors import UserError


def lookup_ids(docs: np.ndarray, markers: list[dict]) -> np.ndarray:
    """The id strings of ``docs`` (sorted document numbers), read from each task's signature files."""
    pieces = [np.zeros(0, dtype=str)]
    bounds = np.searchsorted(docs, doc_numbers_of_tasks(len(markers) + 1))
    for marker, lo, hi in zip(markers, bounds[:-1].tolist(), bounds[1:].tolist()):
        if lo == hi:
            continue
        first = np.cumsum([0, *marker["counts"]])
        positions = position_of(docs[lo:hi])
        part_of = np.searchsorted(first, positions, side="right") - 1  # ascending, like positions
        parts, starts = np.unique(part_of, return_index=True)
        for part, a, b in zip(parts.tolist(), starts.tolist(), [*starts[1:].tolist(), len(positions)]):
            with np.load(marker["files"][part], allow_pickle=False) as data:
                pieces.append(data["ids"][positions[a:b] - first[part]])
    return np.concatenate(pieces)


def _ranks(ids: np.ndarray) -> np.ndarray:
    """Each id's position in string order (the keeper of a group is its smallest rank)."""
    unique, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    if len(counts) and counts.max() > 1:
        raise UserError(f"dedup: document id {str(unique[np.argmax(counts > 1)])!r} appears in more than one "
                        "signature record")
    return inverse.reshape(-1)


def _group_index(sizes: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def exact_losers(members: np.ndarray, sizes: np.ndarray, rank_of) -> np.ndarray:
    """Members of exact groups that are not their group's smallest id (sorted)."""
    if not len(sizes):
        return np.zeros(0, np.uint64)
    ranks = rank_of(members)
    best = np.minimum.reduceat(ranks, np.cumsum(sizes) - sizes)
    return np.unique(members[ranks != best[_group_index(sizes)]])


def near_losers(members: np.ndarray, sizes: np.ndarray, removed: np.ndarray, rank_of) -> np.ndarray:
    """Documents of near components (after dropping ``removed``, sorted) that are not the smallest id."""
    group = _group_index(sizes)
    alive = np.ones(len(members), dtype=bool)
    if len(removed):
        at = np.minimum(np.searchsorted(removed, members), len(removed) - 1)
        alive = removed[at] != members
    members, group = members[alive], group[alive]
    linked = group[1:] == group[:-1]
    source, target = members[:-1][linked], members[1:][linked]
    if not len(source):
        return np.zeros(0, np.uint64)
    nodes = np.unique(np.concatenate([source, target]))
    edges = (np.searchsorted(nodes, source), np.searchsorted(nodes, target))
    graph = coo_matrix((np.ones(len(source), np.int8), edges), shape=(len(nodes), len(nodes)))
    count, labels = connected_components(graph, directed=False)
    ranks = rank_of(nodes)
    best = np.full(count, np.iinfo(ranks.dtype).max, dtype=ranks.dtype)
    np.minimum.at(best, labels, ranks)
    return nodes[ranks != best[labels]]


def _write_per_task(dirs: DedupDirs, docs: np.ndarray, ids: np.ndarray, losers: dict[str, np.ndarray]) -> None:
    """``losers``: sorted document numbers by reason; a task's are one slice (its number is the high bits)."""
    starts = doc_numbers_of_tasks(dirs.num_tasks + 1)
    for task_id in range(dirs.num_tasks):
        removed: dict[str, str] = {}
        for reason, chosen in losers.items():
            lo, hi = np.searchsorted(chosen, starts[task_id : task_id + 2])
            removed.update((str(i), reason) for i in ids[np.searchsorted(docs, chosen[lo:hi])])
        write_removed(dirs.removed(task_id), removed)


def run_union(dirs: DedupDirs, cfg: DedupConfig, keep_intermediate: bool = False) -> dict[str, int]:
    """Decide and write every task's removed documents, then the done marker; returns counts by reason."""
    if os.path.exists(dirs.done):
        return {}
    markers = dirs.require_sorted()
    missing = [j for j in range(cfg.buckets) if not os.path.isdir(dirs.bucket(j))]
    if missing:
        raise UserError(f"cannot finish dedup: {len(missing)} of {cfg.buckets} buckets have not run yet "
                        f"(step=dedup_bucket bucket_id={', '.join(map(str, missing[:20]))})")
    exact_members, exact_sizes = bucket_groups(dirs, cfg.buckets, "exact")
    near_members, near_sizes = bucket_groups(dirs, cfg.buckets, "near")
    docs = np.unique(np.concatenate([exact_members, near_members]))
    ids = lookup_ids(docs, markers)
    ranks = _ranks(ids)

    def rank_of(members: np.ndarray) -> np.ndarray:
        return ranks[np.searchsorted(docs, members)]

    exact = exact_losers(exact_members, exact_sizes, rank_of)
    near = near_losers(near_members, near_sizes, exact, rank_of)
    _write_per_task(dirs, docs, ids, {EXACT: exact, NEAR: near})
    with open(dirs.done, "wb"):
        pass
    if not keep_intermediate:  # the decision is final: the sorted runs and groups are no longer needed
        shutil.rmtree(os.path.join(dirs.root, "runs"), ignore_errors=True)
        for bucket_id in range(cfg.buckets):
            shutil.rmtree(dirs.bucket(bucket_id), ignore_errors=True)
    return {reason: len(chosen) for reason, chosen in ((EXACT, exact), (NEAR, near)) if len(chosen)}
