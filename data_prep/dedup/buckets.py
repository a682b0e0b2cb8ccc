"""Dedup step 2, one job per bucket: the duplicate groups of one key range, from every task's sorted runs.

Bucket J of B owns keys [J * 2**64 / B, (J + 1) * 2**64 / B) of every band (near) and of the high word
of the exact hash. Every run is sorted, so a binary search finds the range in each (8-byte reads) and only
that range is read — this is the merge of the sorted files. A range holding more records than
``pipeline.dedup.memory_mb`` allows is walked in halves. Within a piece, records with an equal key (band
key, or (hi, lo)) form a group; groups of two or more documents are written as CSR arrays (members sorted
within each group, and group sizes). Groups, not pairs: key equality is transitive, so a group stays
connected when the union step drops some of its members.

The groups go to ``bucket-JJJJJ.tmp/`` and the folder is renamed when complete, so a killed bucket leaves
nothing a rerun would trust.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from data_prep.dedup.layout import KEY_SPACE, DedupDirs
from data_prep.dedup.sort_runs import MB, run_paths
from data_prep.stages.filters.config import DedupConfig

RANGE_BYTES_PER_RECORD = 64  # gathered key + doc (+ lo), the lexsort index and the sorted copies


@dataclass(frozen=True)
class Source:
    """Rows of one run file: the sorted key row, then the rows that travel with it (the doc row last).

    Everything is read with plain file reads, nothing is memory-mapped: a mapped binary search faults in
    (and keeps in the step's RSS) tens of kB around every probe, for every run, band and piece, which at
    5e7 documents was 1.5 GB of a bucket's 2.3 GB peak.
    """

    path: str
    offset: int  # where the array data starts in the .npy file
    length: int  # records per row
    dtype: np.dtype
    rows: tuple[int, ...]  # flat row numbers: key row, then the others

    def read(self, row: int, start: int, end: int) -> np.ndarray:
        at = self.offset + (row * self.length + start) * 8
        return np.fromfile(self.path, dtype=self.dtype, count=end - start, offset=at)

    def bound(self, value: int) -> int:
        """``np.searchsorted(keys, value, side="left")`` by reading single keys: ~log2(n) 8-byte reads."""
        if value >= KEY_SPACE:
            return self.length
        lo, hi, base = 0, self.length, self.offset + self.rows[0] * self.length * 8
        with open(self.path, "rb") as f:
            while lo < hi:
                middle = (lo + hi) // 2
                if int(np.frombuffer(os.pread(f.fileno(), 8, base + middle * 8), self.dtype)[0]) < value:
                    lo = middle + 1
                else:
                    hi = middle
        return lo


def _sources(path: str, rows_per_kind: list[tuple[int, ...]]) -> list[Source]:
    header = np.load(path, mmap_mode="r")  # only for the header: shape, dtype and data offset
    length, offset, dtype = header.shape[-1], header.offset, header.dtype
    del header
    return [Source(path, offset, length, dtype, rows) for rows in rows_per_kind]


def key_range(bucket_id: int, buckets: int) -> tuple[int, int]:
    return bucket_id * KEY_SPACE // buckets, (bucket_id + 1) * KEY_SPACE // buckets


def records_per_range(cfg: DedupConfig) -> int:
    return max(2, cfg.memory_mb * MB // RANGE_BYTES_PER_RECORD)


def _groups(sources: list[Source], spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(members, sizes) of the equal-key groups of >= 2 documents among the records in ``spans``."""
    columns = [np.concatenate([src.read(src.rows[c], a, b) for src, (a, b) in zip(sources, spans)])
               for c in range(len(sources[0].rows))]
    *key_columns, docs = columns
    order = np.lexsort((docs, *reversed(key_columns)))
    key_columns = [col[order] for col in key_columns]
    docs = docs[order]
    changes = np.zeros(len(docs), dtype=bool)
    changes[0] = True
    for col in key_columns:
        changes[1:] |= col[1:] != col[:-1]
    starts = np.flatnonzero(changes)
    sizes = np.diff(np.append(starts, len(docs)))
    in_group = np.repeat(sizes >= 2, sizes)
    return docs[in_group], sizes[sizes >= 2]


def _walk(sources: list[Source], lo: int, hi: int, limit: int,
          emit: Callable[[np.ndarray, np.ndarray], None]) -> None:
    """Emit the groups of keys [lo, hi), in pieces of at most ``limit`` records (one key is never split)."""
    pending = [(lo, hi)]
    while pending:
        a, b = pending.pop()
        spans = [(src.bound(a), src.bound(b)) for src in sources]
        total = sum(end - start for start, end in spans)
        if total > limit and b - a > 1:
            middle = (a + b) // 2
            pending += [(middle, b), (a, middle)]
        elif total > 1:
            emit(*_groups(sources, spans))


class _GroupSink:
    """Collects groups; writes them as ``KIND-NNNNN.npz`` (members, sizes) whenever ``limit`` members wait."""

    def __init__(self, folder: str, kind: str, limit: int) -> None:
        self.folder, self.kind, self.limit = folder, kind, limit
        self.members: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        self.waiting = self.files = self.groups = self.grouped = 0

    def add(self, members: np.ndarray, sizes: np.ndarray) -> None:
        if not len(sizes):
            return
        self.members.append(members)
        self.sizes.append(sizes)
        self.waiting += len(members)
        self.groups += len(sizes)
        self.grouped += len(members)
        if self.waiting >= self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.members:
            return
        path = os.path.join(self.folder, f"{self.kind}-{self.files:05d}.npz")
        np.savez(path, members=np.concatenate(self.members), sizes=np.concatenate(self.sizes))
        self.members, self.sizes, self.waiting = [], [], 0
        self.files += 1


def _run_files(dirs: DedupDirs, markers: list[dict], kind: str) -> list[str]:
    return [path for m in markers for path in run_paths(dirs.runs(m["task_id"]), kind, m[f"{kind}_runs"])]


def run_bucket(dirs: DedupDirs, bucket_id: int, cfg: DedupConfig) -> dict[str, int]:
    """Write bucket ``bucket_id``'s groups (nothing if it is already complete); returns group counts."""
    final = dirs.bucket(bucket_id)
    if os.path.isdir(final):
        return {}
    markers = dirs.require_sorted()
    folder = final + ".tmp"
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    lo, hi = key_range(bucket_id, cfg.buckets)
    limit = records_per_range(cfg)
    counts = {}
    if cfg.exact:
        sink = _GroupSink(folder, "exact", limit // 2)
        runs = [src for path in _run_files(dirs, markers, "exact") for src in _sources(path, [(0, 1, 2)])]
        if runs:
            _walk(runs, lo, hi, limit, sink.add)
        sink.flush()
        counts["exact_groups"] = sink.groups
    if cfg.near:
        sink = _GroupSink(folder, "near", limit // 2)
        by_band = [(band, cfg.bands + band) for band in range(cfg.bands)]  # (2, bands, n): keys, then docs
        runs = [_sources(path, by_band) for path in _run_files(dirs, markers, "near")]
        for band in range(cfg.bands if runs else 0):
            _walk([sources[band] for sources in runs], lo, hi, limit, sink.add)
        sink.flush()
        counts["near_groups"] = sink.groups
    os.replace(folder, final)
    return counts


def bucket_groups(dirs: DedupDirs, buckets: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Every bucket's groups of ``kind`` concatenated: (members, sizes)."""
    members, sizes = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)]
    for bucket_id in range(buckets):
        for path in sorted(glob.glob(os.path.join(dirs.bucket(bucket_id), f"{kind}-*.npz"))):
            with np.load(path) as data:
                members.append(data["members"])
                sizes.append(data["sizes"].astype(np.int64))
    return np.concatenate(members), np.concatenate(sizes)
