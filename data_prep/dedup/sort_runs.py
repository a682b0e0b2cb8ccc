"""Dedup step 1, per task: its signature files -> sorted runs on disk (an external sort).

A near run (``near-RRRRR.npy``, uint64 of shape (2, bands, n)) holds, for each band, the band keys of n
documents sorted ascending ([0, band]) and their document numbers in the same order ([1, band]); documents
without words are left out (they are never near duplicates). An exact run (``exact-RRRRR.npy``, shape
(3, n)) holds the 128-bit exact hashes (hi, lo) and document numbers, sorted by (hi, lo). A run holds at
most what ``pipeline.dedup.memory_mb`` allows, so a large task writes several; the bucket step merges them
by reading only its key range of each (they are ``np.load(mmap_mode="r")``-able). ``sorted.json`` is written
last, with the signature files and their document counts (the union step looks ids up by position).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import numpy as np
from numpy.lib.format import open_memmap

from data_prep.dedup.layout import DedupDirs, doc_numbers, read_json, write_json
from data_prep.stages.dedup_signature import load_signatures
from data_prep.stages.filters.config import DedupConfig

MB = 1 << 20
SORT_COPIES = 3  # buffered records, their concatenation and one sorted band / index array at a time
NEAR_RUN, EXACT_RUN = "near-{:05d}.npy", "exact-{:05d}.npy"


def docs_per_run(cfg: DedupConfig) -> int:
    record_bytes = (2 * 8 * cfg.bands if cfg.near else 0) + (3 * 8 if cfg.exact else 0)
    return max(1, cfg.memory_mb * MB // (SORT_COPIES * max(record_bytes, 8)))


def run_paths(folder: str, kind: str, count: int) -> list[str]:
    pattern = NEAR_RUN if kind == "near" else EXACT_RUN
    return [os.path.join(folder, pattern.format(i)) for i in range(count)]


class _RunWriter:
    """Buffers at most ``limit`` documents' records; each flush sorts them into one run per kind."""

    def __init__(self, folder: str, cfg: DedupConfig, limit: int) -> None:
        self.folder, self.cfg, self.limit = folder, cfg, limit
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.buffered = 0
        self.runs = {"near": 0, "exact": 0}

    def add(self, docs: np.ndarray, exact: np.ndarray, bands: np.ndarray, has_words: np.ndarray) -> None:
        start = 0
        while start < len(docs):
            take = min(len(docs) - start, self.limit - self.buffered)
            piece = slice(start, start + take)
            self.parts.append((docs[piece], exact[piece], bands[piece], has_words[piece]))
            self.buffered += take
            start += take
            if self.buffered >= self.limit:
                self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        docs, exact, bands, has_words = (np.concatenate(column) for column in zip(*self.parts))
        self.parts, self.buffered = [], 0
        if self.cfg.exact:
            self._write_exact(docs, exact)
        if self.cfg.near and has_words.any():
            self._write_near(docs[has_words], bands[has_words])

    def _target(self, kind: str, shape: tuple[int, ...]) -> tuple[str, np.memmap]:
        path = run_paths(self.folder, kind, self.runs[kind] + 1)[-1]
        self.runs[kind] += 1
        return path, open_memmap(f"{path}.tmp", mode="w+", dtype=np.uint64, shape=shape)

    def _write_exact(self, docs: np.ndarray, exact: np.ndarray) -> None:
        order = np.lexsort((docs, exact[:, 1], exact[:, 0]))
        path, out = self._target("exact", (3, len(docs)))
        out[0], out[1], out[2] = exact[order, 0], exact[order, 1], docs[order]
        _close(out, path)

    def _write_near(self, docs: np.ndarray, bands: np.ndarray) -> None:
        path, out = self._target("near", (2, bands.shape[1], len(docs)))
        for band in range(bands.shape[1]):
            order = np.argsort(bands[:, band], kind="stable")  # docs ascend within equal keys
            out[0, band], out[1, band] = bands[order, band], docs[order]
        _close(out, path)


def _close(out: np.memmap, path: str) -> None:
    out.flush()
    del out
    os.replace(f"{path}.tmp", path)


def sort_task(dirs: DedupDirs, task_id: int, signature_files: Sequence[str], cfg: DedupConfig) -> dict:
    """Write task ``task_id``'s sorted runs (again from scratch if an earlier attempt was killed)."""
    marker = dirs.sorted_marker(task_id)
    if os.path.exists(marker):
        return read_json(marker)
    folder = dirs.runs(task_id)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    writer = _RunWriter(folder, cfg, docs_per_run(cfg))
    counts = []
    for path in signature_files:
        sig = load_signatures(path, cfg)
        docs = doc_numbers(task_id, sum(counts), len(sig["ids"]))
        writer.add(docs, sig["exact"], sig["bands"], sig["has_words"])
        counts.append(len(sig["ids"]))
    writer.flush()
    summary = {"task_id": task_id, "files": [os.path.abspath(p) for p in signature_files], "counts": counts,
               "near_runs": writer.runs["near"], "exact_runs": writer.runs["exact"]}
    write_json(marker, summary)
    return summary
