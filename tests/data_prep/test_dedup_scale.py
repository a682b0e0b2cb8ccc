"""The scaled-out dedup (sorted runs -> key-range buckets -> union) decides exactly what a brute-force
reference decides, on a random signature corpus with planted structure, whatever the split into tasks,
the number of buckets, or a memory bound small enough to force spilled runs and split key ranges."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from data_prep.dedup import DedupDirs, dedup_locally, load_removed
from data_prep.dedup.buckets import _sources, records_per_range, run_bucket
from data_prep.dedup.sort_runs import docs_per_run, sort_task
from data_prep.stages.dedup_signature import save_signatures
from tests.data_prep.configs import stage_config

CFG = stage_config("dedup", exact=True, near=True, bands=4)
DOCS = 24_000


def corpus(seed: int = 0) -> dict[str, np.ndarray]:
    """Random signatures, then planted: exact copies (some also near-linked), near groups, chains that
    cross bands, documents without words (sharing keys and exact hashes), keys at the key-space ends."""
    rng = np.random.default_rng(seed)
    n = DOCS
    ids = np.array([f"id-{v}" for v in rng.permutation(n * 7)[:n]])  # string order != position order
    exact = rng.integers(0, 2**64, size=(n, 2), dtype=np.uint64)
    bands = rng.integers(0, 2**64, size=(n, CFG.bands), dtype=np.uint64)
    has_words = rng.random(n) > 0.02
    pick = rng.permutation(n)
    for a, b in pick[:1500].reshape(-1, 2):  # exact copies: same text, so same bands
        exact[b], bands[b] = exact[a], bands[a]
    for group in np.split(pick[1500:6000], np.arange(3, 4500, 3)):  # near triples sharing one band key
        bands[group, rng.integers(CFG.bands)] = bands[group[0], rng.integers(CFG.bands)]
    chain = pick[6000:6400]
    for i in range(len(chain) - 1):  # a long chain: each link in another band
        band = i % CFG.bands
        bands[chain[i + 1], band] = bands[chain[i], band]
    for a, b in pick[6400:6800].reshape(-1, 2):  # an exact copy of one doc near-linked to a third
        exact[b], bands[b] = exact[a], bands[a]
        bands[pick[7000 + a % 500], 1] = bands[b, 1]
    bands[pick[8000:8100], 0] = 0  # the smallest and largest keys: bucket ranges must include both ends
    bands[pick[8100:8200], 2] = np.uint64(2**64 - 1)
    has_words[pick[8200:8300]] = False  # no words: same keys, but never near duplicates
    bands[pick[8200:8300], 0] = bands[pick[8300], 0]
    exact[pick[8400:8500]] = exact[pick[8200]]
    return {"ids": ids, "exact": exact, "bands": bands, "has_words": has_words}


def reference(data: dict[str, np.ndarray], exact_on: bool, near_on: bool) -> dict[str, str]:
    """Brute force, in plain Python: exact groups keep the smallest id; then union-find over the band
    keys of the remaining documents with words; each component keeps the smallest id."""
    ids = data["ids"].tolist()
    order = sorted(range(len(ids)), key=ids.__getitem__)
    removed: dict[str, str] = {}
    if exact_on:
        seen: set[tuple[int, int]] = set()
        for i in order:
            key = tuple(data["exact"][i].tolist())
            if key in seen:
                removed[ids[i]] = "exact"
            seen.add(key)
    if not near_on:
        return removed
    parent = {i: i for i in order}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    candidates = [i for i in order if ids[i] not in removed and data["has_words"][i]]
    for band in range(CFG.bands):
        first: dict[int, int] = {}
        for i in candidates:
            j = first.setdefault(int(data["bands"][i, band]), i)
            parent[find(i)] = find(j)
    keeper: dict[int, str] = {}
    for i in candidates:  # in id order: the first of each component is its keeper
        if keeper.setdefault(find(i), ids[i]) != ids[i]:
            removed[ids[i]] = "near"
    return removed


def write_tasks(tmp: Path, data: dict[str, np.ndarray], cfg, tasks: int) -> list[list[str]]:
    bounds = np.linspace(0, DOCS, tasks + 1).astype(int)
    files = []
    for t in range(tasks):  # several signature files per task, as a task writes one per unit of work
        cuts = np.linspace(bounds[t], bounds[t + 1], 4).astype(int)
        files.append([str(save_signatures(tmp / f"t{t}" / f"p{p}.minhash.npz", cfg,
                                          **{k: v[cuts[p]:cuts[p + 1]] for k, v in data.items()}))
                      for p in range(3)])
    return files


def bucketed(tmp: Path, data: dict[str, np.ndarray], cfg, tasks: int, workers: int = 1) -> dict[str, str]:
    files = write_tasks(tmp, data, cfg, tasks)
    dirs = DedupDirs(str(tmp / "dedup"), tasks)
    dedup_locally(dirs, files, cfg, workers)
    return {k: v for t in range(tasks) for k, v in load_removed(dirs.removed(t)).items()}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return corpus()


@pytest.fixture(scope="module")
def expected(data) -> dict[str, str]:
    return reference(data, True, True)


@pytest.mark.parametrize(("tasks", "buckets", "memory_mb"), [(1, 1, 64), (3, 4, 1), (8, 7, 1), (2, 1, 1)])
def test_bucketed_equals_brute_force(tmp_path: Path, data, expected, tasks: int, buckets: int,
                                     memory_mb: int) -> None:
    cfg = replace(CFG, buckets=buckets, memory_mb=memory_mb)
    assert bucketed(tmp_path, data, cfg, tasks) == expected
    assert 2000 < len(expected) < 6000 and set(expected.values()) == {"exact", "near"}


def test_tiny_memory_really_spills_and_splits_ranges() -> None:
    cfg = replace(CFG, memory_mb=1)
    assert docs_per_run(cfg) < DOCS / 3  # a task of 3 writes several runs
    assert records_per_range(cfg) < DOCS  # one bucket's range of a band is walked in pieces


@pytest.mark.parametrize(("exact_on", "near_on"), [(True, False), (False, True)])
def test_exact_or_near_alone_equals_brute_force(tmp_path: Path, data, exact_on: bool, near_on: bool) -> None:
    cfg = replace(CFG, exact=exact_on, near=near_on, buckets=3, memory_mb=1)
    assert bucketed(tmp_path, data, cfg, 2) == reference(data, exact_on, near_on)


def test_worker_processes_and_interrupted_buckets(tmp_path: Path, data, expected) -> None:
    """Buckets in 2 processes; a bucket killed half-way (its .tmp folder) is redone, finished ones kept."""
    cfg = replace(CFG, buckets=5, memory_mb=1)
    dirs = DedupDirs(str(tmp_path / "dedup"), 4)
    for t, files in enumerate(write_tasks(tmp_path, data, cfg, 4)):
        sort_task(dirs, t, files, cfg)
    run_bucket(dirs, 0, cfg)
    os.makedirs(dirs.bucket(1) + ".tmp")
    (Path(dirs.bucket(1) + ".tmp") / "near-00000.npz").write_bytes(b"half")
    dedup_locally(dirs, [[]] * 4, cfg, workers=2)
    assert {k: v for t in range(4) for k, v in load_removed(dirs.removed(t)).items()} == expected
    assert not os.path.exists(dirs.bucket(1) + ".tmp") and not os.path.exists(dirs.runs(0))


def test_run_file_bound_is_searchsorted(tmp_path: Path) -> None:
    """The bucket step's binary search by file reads agrees with np.searchsorted, at the key-space ends too."""
    rng = np.random.default_rng(1)
    keys = np.sort(np.concatenate([rng.integers(0, 2**64, 999, dtype=np.uint64),
                                   np.array([0, 0, 2**63, 2**64 - 1], dtype=np.uint64)]))
    np.save(tmp_path / "run.npy", np.stack([keys, keys[::-1]]))
    [source] = _sources(str(tmp_path / "run.npy"), [(0, 1)])
    for value in [0, 1, 2**63, 2**63 + 1, 2**64 - 1, *rng.integers(0, 2**64, 50, dtype=np.uint64).tolist()]:
        assert source.bound(int(value)) == np.searchsorted(keys, np.uint64(value)), value
    assert source.bound(2**64) == len(keys)
    assert source.read(1, 3, 7).tolist() == keys[::-1][3:7].tolist()
