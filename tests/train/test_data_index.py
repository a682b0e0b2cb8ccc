"""Contract 2, format 2: per-shard sidecar indexes read lazily, format 1 still loads, one manifest read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import train.data.datasets as datasets_module
from openpretrain.errors import UserError
from openpretrain.manifest import load_manifest, shard_name
from openpretrain.shard_index import BadIndex, index_name, index_payload, load_index
from tests.train.test_data_loader import SEQ_LEN, ids_of, make_cfg, make_dataset, take
from train.config import OnCorrupt
from train.data import build_train_data, build_val_batches, data_info
from train.objectives.build import run_objective


def _rows(cfg) -> list[tuple[str, list[int]]]:
    with build_train_data(cfg, 0, 1) as data:
        return [(i, row.tolist()) for b in take(data, 12) for i, row in zip(b.sample_ids, b.inputs)]


def _flip_index(root: Path, number: int) -> Path:
    """Same size, different content: the start-up stat passes, only opening the index can tell."""
    path = root / index_name(shard_name("train", number))
    data = bytearray(path.read_bytes())
    data[-8:] = (10**9).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    return path


def test_manifest_holds_nothing_per_sample(tmp_path):
    root = make_dataset(tmp_path / "v2", [10, 7])
    raw = json.loads((root / "manifest.json").read_text())
    assert raw["format_version"] == 2 and all("offsets" not in s for s in raw["shards"])
    index = np.load(root / raw["shards"][1]["index"])
    assert index.dtype == np.uint64 and index.shape == (8,)


def test_format_1_manifest_reads_the_same_rows(tmp_path):
    old = make_dataset(tmp_path / "alpha", [10, 7, 5], format_version=1)
    raw = json.loads((old / "manifest.json").read_text())
    assert raw["format_version"] == 1 and len(raw["shards"][0]["offsets"]) == 10
    assert not list(old.glob("train/*.idx"))
    new = make_dataset(tmp_path / "v2" / "alpha", [10, 7, 5])
    assert _rows(make_cfg(tmp_path, old)) == _rows(make_cfg(tmp_path, new))


def test_unknown_format_version_says_how_to_upgrade(tmp_path):
    root = make_dataset(tmp_path / "future", [4])
    raw = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**raw, "format_version": 7}))
    with pytest.raises(UserError, match=r"format_version 7 is not supported .* re-run data_prep"):
        load_manifest(str(root))


def test_an_untouched_shard_never_has_its_index_opened(tmp_path):
    root = make_dataset(tmp_path / "lazy", [8, 8, 8])
    bad = _flip_index(root, 2)
    cfg = make_cfg(tmp_path, root, shuffle=False, micro_batch_size=4)
    with build_train_data(cfg, 0, 1) as data:
        take(data, 4)  # samples 0..15: shards 0 and 1 only
        assert data.readers[0].loaded_indexes() == [0, 1]
        with pytest.raises(UserError, match=f"corrupt shard .*: sample 0: index {bad}: index checksum differs"):
            take(data, 1)


def test_corrupt_index_with_skip_falls_back_to_the_tar_headers(tmp_path):
    root = make_dataset(tmp_path / "skip", [8, 8])
    _flip_index(root, 0)
    straight = _rows(make_cfg(tmp_path, make_dataset(tmp_path / "good" / "skip", [8, 8]), shuffle=False))
    cfg = make_cfg(tmp_path, root, shuffle=False, on_corrupt=OnCorrupt.skip)
    with build_train_data(cfg, 0, 1) as data:
        rows = [(i, row.tolist()) for b in take(data, 12) for i, row in zip(b.sample_ids, b.inputs)]
        assert data.skipped_corrupt == 0
    assert rows == straight


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_missing_or_truncated_index_stops_the_run_at_start(tmp_path, damage):
    root = make_dataset(tmp_path / "bad", [4, 4])
    path = root / index_name(shard_name("train", 1))
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-8])
    detail = "cannot open" if damage == "missing" else "file has"
    with pytest.raises(UserError, match=f"corrupt shard {path}: {detail}"):
        data_info(make_cfg(tmp_path, root))
    cfg = make_cfg(tmp_path, root, shuffle=False, micro_batch_size=8, on_corrupt=OnCorrupt.skip)
    with build_train_data(cfg, 0, 1) as data:
        batch = next(data)
    assert not batch.skipped and [int(r[3]) for r in batch.inputs] == [0, 1, 2, 3] * 2


def test_training_start_up_reads_each_manifest_once(tmp_path, monkeypatch):
    """What a trainer does before its first step (train/loop.py Trainer.setup), counting manifest reads."""
    alpha = make_dataset(tmp_path / "alpha", [6, 6], [4])
    beta = make_dataset(tmp_path / "beta", [6], [4], tag=2)
    reads: list[str] = []
    real = datasets_module.load_manifest

    def counting(path: str):
        reads.append(path)
        return real(path)

    monkeypatch.setattr(datasets_module, "load_manifest", counting)
    from train.config import MixEntry

    cfg = make_cfg(tmp_path, mix=[MixEntry(path=str(alpha)), MixEntry(path=str(beta))], eval_batches=1)
    info = data_info(cfg)
    objective = run_objective(cfg, info)
    with build_train_data(cfg, 0, 1, objective, info) as data:
        assert len(ids_of(take(data, 2))) == 4
    assert build_val_batches(cfg, 0, 1, objective, info)[0].inputs.shape == (2, SEQ_LEN)
    assert sorted(reads) == sorted([str(alpha), str(beta)])


@pytest.mark.parametrize(("boundaries", "samples", "shard_bytes", "reason"), [
    ([0, 512, 1024], 3, 2048, r"holds \(3,\) uint64, expected \(4,\)"),
    ([0, 1024, 512, 2048], 3, 4096, "do not start at 0 and increase"),
    ([512, 1024, 1536, 2048], 3, 4096, "do not start at 0 and increase"),
    ([0, 512, 1024, 8192], 3, 4096, "points past the end of the shard"),
])
def test_index_contents_are_checked(tmp_path, boundaries, samples, shard_bytes, reason):
    path = tmp_path / "shard-000000.idx"
    payload = index_payload(boundaries)
    path.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    with pytest.raises(BadIndex, match=reason):
        load_index(str(path), samples, len(payload), sha, shard_bytes)
    good = index_payload([0, 512, 1024, 2048])
    path.write_bytes(good)
    loaded = load_index(str(path), 3, len(good), hashlib.sha256(good).hexdigest(), 4096)
    assert isinstance(loaded, np.memmap) and loaded.tolist() == [0, 512, 1024, 2048]
