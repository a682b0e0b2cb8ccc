"""The loader on real data_prep output (tests/conftest.py's prepared_dir): coverage, val, corruption."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from openpretrain.errors import UserError
from openpretrain.manifest import load_manifest
from tests.train.test_data_loader import consume_steps, make_cfg, take
from train.config import OnCorrupt
from train.data import IGNORE_INDEX, build_train_data, build_val_batches, data_info

pytestmark = pytest.mark.slow  # the session's prepared_dir runs data_prep in a subprocess


def test_batches_hold_the_prepared_tokens(tmp_path, prepared_dir):
    cfg = make_cfg(tmp_path, prepared_dir, micro_batch_size=4, num_workers=2)
    info = data_info(cfg)
    manifest = load_manifest(str(prepared_dir))
    assert (info.vocab_size, info.seq_len, info.eos_id) == (manifest.tokenizer.vocab_size, manifest.seq_len,
                                                            manifest.tokenizer.eos_id)
    assert Path(info.tokenizer_path).is_file() and info.bytes_per_token > 1
    with build_train_data(cfg, 0, 1) as data:
        batch = next(data)
    assert batch.inputs.shape == (4, manifest.seq_len) and int(batch.inputs.max()) < info.vocab_size
    assert all(i.startswith(f"{prepared_dir.name}/train/") for i in batch.sample_ids)
    assert len(batch.doc_starts) == 4 and all(0 <= s < manifest.seq_len for row in batch.doc_starts for s in row)
    eos_rows, eos_cols = torch.nonzero(batch.inputs == info.eos_id, as_tuple=True)
    for row, col in zip(eos_rows.tolist(), eos_cols.tolist()):  # a document starts right after each EOS
        assert col + 1 >= manifest.seq_len or col + 1 in batch.doc_starts[row]
    val = build_val_batches(cfg, 0, 1)
    assert val and all(i.split("/")[1] == "val" for b in val for i in b.sample_ids)


@pytest.mark.parametrize(("first_world", "second_world"), [(2, 1), (1, 2)])
def test_world_size_change_on_prepared_data(tmp_path, prepared_dir, first_world, second_world):
    planned, _ = consume_steps(make_cfg(tmp_path, prepared_dir, micro_batch_size=4, grad_accum_steps=2), 1, 12)
    before, state = consume_steps(make_cfg(tmp_path, prepared_dir, micro_batch_size=8 // first_world,
                                           grad_accum_steps=1), first_world, 5)
    after, _ = consume_steps(make_cfg(tmp_path, prepared_dir, micro_batch_size=2, grad_accum_steps=4 // second_world),
                             second_world, 7, state)
    ids = [i for _, i in before + after]
    assert len(ids) == len(set(ids)) == 96
    assert sorted(before + after) == sorted(planned)


@pytest.fixture
def damaged_copy(tmp_path, prepared_dir) -> tuple[Path, Path]:
    """A copy of the prepared data with one training shard cut in half."""
    copy = tmp_path / "damaged"
    shutil.copytree(prepared_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    shard = copy / manifest["shards"][0]["path"]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return copy, shard


def test_truncated_shard_is_an_error_naming_it_at_start(tmp_path, damaged_copy):
    copy, shard = damaged_copy
    with pytest.raises(UserError, match=f"corrupt shard {shard}: file has"):
        data_info(make_cfg(tmp_path, copy))


def test_truncated_shard_is_a_counted_skip(tmp_path, damaged_copy, prepared_dir):
    copy, _ = damaged_copy
    per_shard = load_manifest(str(copy)).shards_for("train")[0].samples
    cfg = make_cfg(tmp_path, copy, micro_batch_size=per_shard, shuffle=False, on_corrupt=OnCorrupt.skip)
    with build_train_data(cfg, 0, 1) as data:
        batch = take(data, 1)[0]
        skipped = data.skipped_corrupt
    masked = (batch.targets == IGNORE_INDEX).all(dim=1)
    assert skipped == len(batch.skipped) == int(masked.sum()) and 0 < skipped < per_shard
    with build_train_data(make_cfg(tmp_path, prepared_dir, micro_batch_size=per_shard, shuffle=False), 0, 1) as data:
        intact = next(data)
    assert torch.equal(batch.inputs[~masked], intact.inputs[~masked])
