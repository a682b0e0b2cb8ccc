"""Packing into seq_len+1 samples with document boundaries, and the deterministic tar writer."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest
import webdataset as wds

from data_prep.output.packing import Packer
from data_prep.output.shards import build_tar, meta_bytes, npy_bytes, write_shard
from openpretrain.errors import UserError
from openpretrain.manifest import META_EXT, TOKENS_EXT, sample_key

EOS = 0


def doc(n: int, value: int) -> np.ndarray:
    return np.array([value] * n + [EOS], dtype=np.uint16)


def test_packer_cuts_exact_samples_and_records_boundaries() -> None:
    packer = Packer(seq_len=7, dtype="uint16")  # samples of 8 tokens
    out = packer.add(doc(2, 1), "a", "s")  # 3 tokens
    out += packer.add(doc(9, 2), "b", "s")  # 10 tokens -> 13 pending: one sample, 5 left
    out += packer.add(doc(2, 3), "c", "t")  # 3 tokens -> 8 pending: one sample
    assert len(out) == 2 and packer.pending_tokens == 0
    (first, meta1), (second, meta2) = out
    assert first.tolist() == [1, 1, 0, 2, 2, 2, 2, 2]
    assert meta1 == {"doc_starts": [0, 3], "doc_ids": ["a", "b"], "sources": ["s", "s"]}
    assert second.tolist() == [2, 2, 2, 2, 0, 3, 3, 0]
    assert meta2 == {"doc_starts": [0, 5], "doc_ids": ["b", "c"], "sources": ["s", "t"]}


def test_long_document_spans_many_samples_and_state_round_trips() -> None:
    whole = Packer(seq_len=3, dtype="uint16")
    expected = whole.add(doc(5, 1), "x", "s") + whole.add(doc(10, 2), "y", "s")
    first_half = Packer(seq_len=3, dtype="uint16")
    got = first_half.add(doc(5, 1), "x", "s")
    resumed = Packer(seq_len=3, dtype="uint16")
    resumed.load_state(first_half.state())
    got += resumed.add(doc(10, 2), "y", "s")
    assert [(t.tolist(), m) for t, m in got] == [(t.tolist(), m) for t, m in expected]
    assert all(m["doc_ids"] == ["y"] and m["doc_starts"] == [0] for _, m in expected[2:])


def samples(n: int) -> list[tuple[np.ndarray, dict]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 500, 17).astype(np.uint16), {"doc_ids": [f"d{i}"], "doc_starts": [0]})
            for i in range(n)]


def test_tar_bytes_equal_tarfile_and_read_back_with_webdataset(tmp_path) -> None:
    items = samples(5)
    payload, offsets = build_tar(7, items)
    reference = io.BytesIO()
    with tarfile.open(fileobj=reference, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for index, (tokens, meta) in enumerate(items):
            for ext, data in ((TOKENS_EXT, npy_bytes(tokens)), (META_EXT, meta_bytes(meta))):
                info = tarfile.TarInfo(f"{sample_key(7, index)}.{ext}")
                info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
                tar.addfile(info, io.BytesIO(data))
    assert payload == reference.getvalue()
    assert npy_bytes(items[0][0]) == _np_save(items[0][0])
    (tmp_path / "s.tar").write_bytes(payload)
    read = list(wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False))
    assert [r["__key__"] for r in read] == [sample_key(7, i) for i in range(5)]
    assert np.array_equal(np.load(io.BytesIO(read[3][TOKENS_EXT])), items[3][0])
    assert offsets[0] == 0 and all(payload[o:o + 13].decode() == sample_key(7, i) for i, o in enumerate(offsets[:-1]))
    assert len(offsets) == 6 and payload[offsets[-1]:] == b"\0" * (len(payload) - offsets[-1])  # end of archive


def _np_save(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_existing_shard_is_kept_and_identical(tmp_path) -> None:
    first = write_shard(str(tmp_path), "train", 0, samples(3))
    path = tmp_path / first.path
    mtime = path.stat().st_mtime_ns
    again = write_shard(str(tmp_path), "train", 0, samples(3))
    assert again == first and path.stat().st_mtime_ns == mtime


def test_shard_index_is_written_with_the_tar_and_recorded(tmp_path) -> None:
    shard = write_shard(str(tmp_path), "val", 3, samples(4))
    index = (tmp_path / shard.index).read_bytes()
    assert shard.index == "val/shard-000003.idx" and shard.offsets is None
    assert len(index) == shard.index_bytes and hashlib.sha256(index).hexdigest() == shard.index_sha256
    payload, boundaries = build_tar(3, samples(4))
    assert np.load(io.BytesIO(index)).tolist() == boundaries


def test_rerun_after_a_crash_between_index_and_tar(tmp_path) -> None:
    first = write_shard(str(tmp_path), "train", 0, samples(3))
    (tmp_path / first.path).unlink()  # killed after the index was renamed, before the tar was
    assert write_shard(str(tmp_path), "train", 0, samples(3)) == first
    (tmp_path / first.index).write_bytes(b"another run's index")
    with pytest.raises(UserError, match="shard-000000.idx exists with different content"):
        write_shard(str(tmp_path), "train", 0, samples(3))
