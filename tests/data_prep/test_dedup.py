"""Whole-run dedup: exact and MinHash-LSH near duplicates across task signature files, one keeper each."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from data_prep.dedup import DedupDirs, DedupFilter, dedup_locally, load_removed, write_removed
from data_prep.document import Document, Stats
from data_prep.stages.base import run_stages
from data_prep.stages.dedup_signature import SignatureWriter, compute_signatures
from data_prep.stages.filters.config import DedupConfig
from data_prep.stages.minhash import MinHasher, normalize
from openpretrain.errors import UserError
from tests.data_prep.configs import stage_config
from tests.data_prep.filter_texts import PROSE

CFG = stage_config("dedup", exact=True, near=True)
_WORDS = ["river", "town", "mill", "grain", "salt", "cloth", "bridge", "trade", "harbour", "market", "museum", "water", "gates", "channels", "letters", "photographs", "records", "students", "future", "families", "work", "daily", "guides", "floods", "visitors", "warehouses"]


def article(seed: int, words: int = 300) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) + str(rng.randrange(50)) for _ in range(words))


def edit(text: str, changes: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = "changed"
    return " ".join(words)


def docs_of(texts: dict[str, str]) -> list[Document]:
    return [Document(id=i, text=t, source="s", license="l") for i, t in texts.items()]


def cluster(files: list[Path], cfg: DedupConfig, work: Path) -> dict[str, str]:
    """The production dedup steps with one signature file per task; every task's removed ids together."""
    dirs = DedupDirs(str(work), len(files))
    dedup_locally(dirs, [[str(f)] for f in files], cfg)
    return {k: v for t in range(len(files)) for k, v in load_removed(dirs.removed(t)).items()}


def run(tmp_path: Path, tasks: list[dict[str, str]], cfg: DedupConfig = CFG) -> dict[str, str]:
    files = [tmp_path / f"task-{k}.minhash.npz" for k in range(len(tasks))]
    for path, texts in zip(files, tasks):
        compute_signatures(docs_of(texts), cfg, path)
    return cluster(files, cfg, tmp_path / "dedup")


def test_normalize() -> None:
    assert normalize("  Héllo,   WORLD!\n2024-01-15 café_bar ") == "hello world 0 0 0 cafe bar"


def test_exact_and_near_duplicates_across_tasks(tmp_path: Path) -> None:
    base, other = article(1), article(2)
    tasks = [
        {"a/1": base, "a/2": other},
        {"b/1": base.upper() + " !!", "b/2": edit(base, 6)},  # same after normalisation; 2% of words edited
        {"c/1": edit(other, 150, seed=3), "c/2": article(3)},  # half the words changed: not a duplicate
    ]
    removed = run(tmp_path, tasks)
    assert removed == {"b/1": "exact", "b/2": "near"}


def test_keeper_is_smallest_id_whatever_the_task_split(tmp_path: Path) -> None:
    texts = {f"doc/{i:03d}": edit(article(7), i % 4, seed=i) for i in range(12)}
    texts.update({f"uniq/{i}": article(100 + i) for i in range(5)})
    items = list(texts.items())
    random.Random(0).shuffle(items)
    one = run(tmp_path / "one", [dict(items)])
    three = run(tmp_path / "three", [dict(items[:5]), dict(items[5:9]), dict(items[9:])])
    assert one == three
    assert "doc/000" not in one and set(one) == {f"doc/{i:03d}" for i in range(1, 12)}


def test_exact_or_near_alone(tmp_path: Path) -> None:
    base = article(4)
    tasks = [{"x": base, "y": base, "z": edit(base, 3)}]
    assert run(tmp_path / "e", tasks, replace(CFG, near=False)) == {"y": "exact"}
    assert run(tmp_path / "n", tasks, replace(CFG, exact=False)) == {"y": "near", "z": "near"}


def test_lsh_collision_probability_follows_bands_and_rows() -> None:
    hasher = MinHasher(CFG)
    base = article(5, words=400).split()
    hits = {0.99: 0, 0.8: 0}
    for trial in range(40):
        rng = random.Random(trial)
        for keep, _ in hits.items():
            other = [w if rng.random() < keep else f"new{rng.random()}" for w in base]
            a, b = hasher.keys_of(" ".join(base)), hasher.keys_of(" ".join(other))
            hits[keep] += bool(np.any(a == b))
    # 14 bands x 8 rows: P(candidate) = 1 - (1 - J^8)^14
    assert hits[0.99] >= 39  # 5-gram Jaccard ~0.91: P ~ 0.9998
    assert hits[0.8] == 0  # 5-gram Jaccard ~0.2: P ~ 4e-5


def test_short_and_empty_documents(tmp_path: Path) -> None:
    tasks = [{"a": "Hi there", "b": "hi, there!", "c": "!!!", "d": "???", "e": "!!!"}]
    assert run(tmp_path, tasks) == {"b": "exact", "e": "exact"}


def test_signature_file_is_atomic_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.minhash.npz"
    with pytest.raises(RuntimeError), SignatureWriter(path, CFG) as writer:
        writer.add(docs_of({"a": PROSE})[0])
        raise RuntimeError("task killed")
    assert not path.exists()
    compute_signatures(docs_of({"a": PROSE}), CFG, path)
    with pytest.raises(UserError, match="ngram/bands/rows/seed"):
        cluster([path], replace(CFG, bands=10), tmp_path / "w1")
    compute_signatures(docs_of({"a": PROSE}), CFG, tmp_path / "again.minhash.npz")
    with pytest.raises(UserError, match="'a' appears in more than one"):
        cluster([path, tmp_path / "again.minhash.npz"], CFG, tmp_path / "w2")
    assert cluster([], CFG, tmp_path / "w3") == {}


def test_removed_file_roundtrip_and_stage(tmp_path: Path) -> None:
    removed = {"tab\tin id": "near", "b": "exact"}
    path = write_removed(tmp_path / "removed.tsv", removed)
    assert load_removed(path) == removed
    stats = Stats()
    kept = list(run_stages(docs_of({"a": "x", "b": "y", "tab\tin id": "z"}), [DedupFilter(removed)], stats))
    assert [d.id for d in kept] == ["a"]
    assert stats.rejected == {"dedup/exact": 1, "dedup/near": 1}
