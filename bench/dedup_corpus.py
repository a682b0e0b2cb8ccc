"""A random signature corpus for bench/scale_dedup.py: no text, the real signature file format, planted duplicates.

Every value is a bijective 64-bit mix (splitmix64) of the document index, so two documents never share a
band key or an exact hash by chance; only the planted copies do, and the expected decision is exact:
- near pairs: document i < N/2 with i % NEAR_EVERY == 0 and document i + N/2 share one band key
  (1 / NEAR_EVERY of the documents are in a pair, half of them are removed "near");
- exact pairs: document j < N/2 with j % EXACT_EVERY == EXACT_OFFSET and j + N/2 share the exact hash and
  every band key (an exact copy; the copy is removed "exact", and is never a near duplicate on top).
Pairs cross tasks (the halves go to different tasks). Ids are ``dNNNNNNNNNN`` with NNNNNNNNNN a bijective
scramble of the index, so string order is not task order; the larger id of each pair is the one removed.
Each task is generated on its own (memory: one task's share).
"""

from __future__ import annotations

import os

import numpy as np

from data_prep.stages.dedup_signature import save_signatures
from data_prep.stages.filters.config import DedupConfig

NEAR_EVERY = 20  # sources are i < N/2 with i % 20 == 0: N/40 pairs, 5% of the documents in near pairs
EXACT_EVERY, EXACT_OFFSET = 100, 7  # N/200 pairs: 1% of the documents are in exact pairs (7 % 20 != 0: disjoint)
ID_DIGITS = 10
_ID_MULTIPLIER, _ID_MODULUS = 6_700_417, 10**ID_DIGITS  # coprime: index -> id number is a bijection
PART_DOCS = 500_000  # documents per signature file (a real task writes one per unit of work)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 (distinct inputs, distinct outputs)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def id_numbers(index: np.ndarray) -> np.ndarray:
    return (index.astype(np.int64) * _ID_MULTIPLIER) % _ID_MODULUS


def id_strings(index: np.ndarray) -> np.ndarray:
    """``d`` + 10 digits, built as code points (a Python loop over 5e7 strings would dominate the bench)."""
    numbers = id_numbers(index)
    digits = numbers[:, None] // (10 ** np.arange(ID_DIGITS - 1, -1, -1, dtype=np.int64)) % 10
    codes = np.concatenate([np.full((len(index), 1), ord("d")), 48 + digits], axis=1).astype(np.uint32)
    return np.ascontiguousarray(codes).view(f"U{ID_DIGITS + 1}").ravel()


def _values(index: np.ndarray, bands: int) -> tuple[np.ndarray, np.ndarray]:
    idx = index.astype(np.uint64)
    band_keys = mix(idx[:, None] * np.uint64(bands) + np.arange(bands, dtype=np.uint64))
    salt = np.uint64(1 << 62)  # exact hashes come from another part of the mix's domain
    exact = mix(salt + idx[:, None] * np.uint64(2) + np.arange(2, dtype=np.uint64))
    return exact, band_keys


def signatures(first: int, count: int, total: int, bands: int) -> dict[str, np.ndarray]:
    """Documents [first, first + count) of a corpus of ``total``, planted copies included."""
    index = np.arange(first, first + count, dtype=np.int64)
    exact, band_keys = _values(index, bands)
    half = total // 2
    source = index - half
    near = (index >= half) & (source < half) & (source % NEAR_EVERY == 0)
    copies = (index >= half) & (source < half) & (source % EXACT_EVERY == EXACT_OFFSET)
    src_exact, src_bands = _values(source[near | copies], bands)
    rows = np.flatnonzero(near | copies)
    is_near = near[rows]
    chosen = (source[rows][is_near] // NEAR_EVERY) % bands  # the shared band varies between pairs
    band_keys[rows[is_near], chosen] = src_bands[is_near, chosen]
    exact[rows[~is_near]], band_keys[rows[~is_near]] = src_exact[~is_near], src_bands[~is_near]
    return {"ids": id_strings(index), "exact": exact, "bands": band_keys, "has_words": np.ones(count, dtype=bool)}


def write_task(folder: str, task_id: int, tasks: int, total: int, cfg: DedupConfig) -> list[str]:
    """Task ``task_id``'s share as signature files of at most PART_DOCS documents; returns their paths."""
    bounds = np.linspace(0, total, tasks + 1).astype(np.int64)
    paths = []
    for part, first in enumerate(range(int(bounds[task_id]), int(bounds[task_id + 1]), PART_DOCS)):
        count = min(PART_DOCS, int(bounds[task_id + 1]) - first)
        path = os.path.join(folder, f"task-{task_id:05d}", f"part-{part:06d}.minhash.npz")
        paths.append(str(save_signatures(path, cfg, **signatures(first, count, total, cfg.bands))))
    return paths


def planted_removals(total: int) -> dict[str, set[str]]:
    """The ids a correct dedup removes, by reason: the larger id of every planted pair."""
    half = total // 2
    out = {}
    for reason, every, offset in (("near", NEAR_EVERY, 0), ("exact", EXACT_EVERY, EXACT_OFFSET)):
        source = np.arange(offset, half, every, dtype=np.int64)
        source = source[source + half < total]
        pair = np.stack([source, source + half])
        larger = pair[np.argmax(id_numbers(pair), axis=0), np.arange(pair.shape[1])]
        out[reason] = set(id_strings(larger).tolist())
    return out
