"""Contract 3 at the loader level: determinism, seek == replay, world-size changes, epochs, mixtures."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from openpretrain.errors import ConfigError, UserError
from openpretrain.manifest import (
    FORMAT_VERSION,
    META_EXT,
    TOKENIZER_NAME,
    TOKENS_EXT,
    Manifest,
    ShardInfo,
    TokenizerInfo,
    sample_key,
    shard_name,
)
from openpretrain.shard_index import index_name, index_payload
from tests.train.configs import section, train_config
from train.config import DataConfig, MixEntry, OnCorrupt, TrainConfig
from train.data import IGNORE_INDEX, build_train_data, build_val_batches, data_info

SEQ_LEN = 16
VOCAB = 512
EOS = 0


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _write_shard(root: Path, split: str, number: int, samples: int, tag: int, inline: bool = False) -> ShardInfo:
    """A Contract-2 tar and its index; token 1..3 encode (dataset tag, shard, index) so rows can be checked
    against ids. ``inline``: a format-1 entry (offsets in the manifest, no index file)."""
    buf, offsets = io.BytesIO(), []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for index in range(samples):
            tokens = np.arange(SEQ_LEN + 1, dtype=np.uint16) % VOCAB
            tokens[1:4] = (tag, number, index)
            key = sample_key(number, index)
            offsets.append(tar.offset)
            for ext, payload in ((TOKENS_EXT, _npy(tokens)), (META_EXT, b'{"doc_ids":[]}')):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        end = tar.offset
    data = buf.getvalue()
    name = shard_name(split, number)
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    shard = ShardInfo(path=name, split=split, samples=samples, tokens=samples * (SEQ_LEN + 1), bytes=len(data),
                      sha256=hashlib.sha256(data).hexdigest())
    if inline:
        shard.offsets = offsets
        return shard
    index = index_payload([*offsets, end])
    (root / index_name(name)).write_bytes(index)
    shard.index, shard.index_bytes, shard.index_sha256 = index_name(name), len(index), hashlib.sha256(index).hexdigest()
    return shard


def make_dataset(root: Path, train_shards: list[int], val_shards: list[int] = (), tag: int = 1,
                 tokenizer: bytes = b'{"fake": "tokenizer"}', format_version: int = FORMAT_VERSION) -> Path:
    """A prepared directory (manifest, tokenizer, train/val tars and indexes) with the given samples per
    shard; ``format_version=1`` writes the old layout (offsets inline, no index files)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / TOKENIZER_NAME).write_bytes(tokenizer)
    inline = format_version == 1
    shards = [_write_shard(root, "train", i, n, tag, inline) for i, n in enumerate(train_shards)]
    shards += [_write_shard(root, "val", i, n, tag, inline) for i, n in enumerate(val_shards)]
    Manifest(
        format_version=format_version, seq_len=SEQ_LEN, token_dtype="uint16",
        tokenizer=TokenizerInfo(file=TOKENIZER_NAME, vocab_size=VOCAB, eos_id=EOS, bos_id=None,
                                sha256=hashlib.sha256(tokenizer).hexdigest()),
        shards=shards, stats={"text_bytes": 400, "text_tokens": 100},
    ).write(str(root))
    return root


def make_cfg(tmp_path: Path, path: Path | None = None, mix: list[MixEntry] | None = None, **overrides) -> TrainConfig:
    data_keys = {k: overrides.pop(k) for k in list(overrides) if k in DataConfig.__dataclass_fields__}
    data = section("data", path=str(path) if path else None, mix=mix or [], **{"num_workers": 0, **data_keys})
    return train_config(run_dir=str(tmp_path / "run"), data=data, **{"micro_batch_size": 2, **overrides})


def take(data, micro_steps: int) -> list:
    return [next(data) for _ in range(micro_steps)]


def ids_of(batches: list) -> list[str]:
    return [i for b in batches for i in b.sample_ids]


def consume_steps(cfg: TrainConfig, world: int, steps: int, state: dict | None = None) -> tuple[list, dict]:
    """Run ``steps`` global batches on every rank of a world; returns (positions, ids) rows and the state."""
    rows, states = [], []
    for rank in range(world):
        with build_train_data(cfg, rank, world) as data:
            if state is not None:
                data.load_state_dict(state)
            for batch in take(data, steps * cfg.grad_accum_steps):
                rows += list(zip(batch.positions, batch.sample_ids))
            states.append(data.state_dict())
    assert all(s == states[0] for s in states), "every rank must agree on the data position"
    return rows, json.loads(json.dumps(states[0]))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds") / "alpha", [10, 7, 10, 5, 10], [6], tag=1)


@pytest.fixture(scope="module")
def other_dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("ds") / "beta", [8, 8, 8], [4], tag=2)


def test_rows_match_their_ids_and_shapes(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, grad_accum_steps=2)
    with build_train_data(cfg, 0, 1) as data:
        batch = next(data)
    assert batch.inputs.dtype == torch.long and batch.inputs.shape == (2, SEQ_LEN)
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    for row, sample_id in zip(batch.inputs, batch.sample_ids):
        assert sample_id == f"alpha/train/{sample_key(int(row[2]), int(row[3]))}"


def test_order_is_deterministic_and_seed_dependent(tmp_path, dataset):
    def first_ids(seed: int, workers: int) -> list[str]:
        cfg = make_cfg(tmp_path, dataset, seed=seed, num_workers=workers)
        with build_train_data(cfg, 0, 1) as data:
            return ids_of(take(data, 10))

    assert first_ids(1, 0) == first_ids(1, 3)
    assert first_ids(1, 0) != first_ids(2, 0)


def test_every_epoch_is_a_new_permutation_of_all_samples(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, micro_batch_size=6)  # 42 samples: epochs end mid-batch
    with build_train_data(cfg, 0, 1) as data:
        ids = ids_of(take(data, 14))
        state = data.state_dict()
    epochs = [ids[:42], ids[42:84]]
    assert len(set(epochs[0])) == 42 and set(epochs[0]) == set(epochs[1])
    assert epochs[0] != epochs[1]
    assert state["datasets"][0]["consumed"] == 84 and state["datasets"][0]["epoch"] == 2


def test_seek_equals_replay(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, grad_accum_steps=3, num_workers=2)
    with build_train_data(cfg, 0, 1) as data:
        straight = ids_of(take(data, 3 * 20))
    with build_train_data(cfg, 0, 1) as data:
        take(data, 3 * 13 + 1)  # a partial global batch is not consumed yet
        state = json.loads(json.dumps(data.state_dict()))
    assert state["global_samples"] == 13 * 6
    with build_train_data(cfg, 0, 1) as data:
        data.load_state_dict(state)
        resumed = ids_of(take(data, 3 * 7))
    assert resumed == straight[13 * 6:]


@pytest.mark.parametrize(("first_world", "second_world"), [(2, 1), (1, 2), (2, 3)])
def test_world_size_change_consumes_every_planned_sample_once(tmp_path, dataset, other_dataset,
                                                              first_world, second_world):
    mix = [MixEntry(path=str(dataset), weight=2.0), MixEntry(path=str(other_dataset), weight=1.0)]
    planned, _ = consume_steps(make_cfg(tmp_path, mix=mix, micro_batch_size=2, grad_accum_steps=6), 1, 9)
    # Same global batch (12) on every world size: accumulation makes up for the ranks.
    before, state = consume_steps(make_cfg(tmp_path, mix=mix, grad_accum_steps=6 // first_world), first_world, 4)
    after, _ = consume_steps(make_cfg(tmp_path, mix=mix, grad_accum_steps=6 // second_world), second_world, 5,
                             state)
    assert sorted(before + after) == sorted(planned)
    assert Counter(i for _, i in before + after) == Counter(i for _, i in planned)


def test_mixture_follows_the_weights_within_one_sample(tmp_path, dataset, other_dataset):
    mix = [MixEntry(path=str(dataset), weight=0.75), MixEntry(path=str(other_dataset), weight=0.25, name="b")]
    cfg = make_cfg(tmp_path, mix=mix, micro_batch_size=4)
    with build_train_data(cfg, 0, 1) as data:
        ids = ids_of(take(data, 50))  # 200 samples: several epochs of each dataset
        state = data.state_dict()
    for n in range(1, len(ids) + 1):
        alpha = sum(i.startswith("alpha/") for i in ids[:n])
        assert abs(alpha - 0.75 * n) <= 1
    consumed = {d["name"]: d["consumed"] for d in state["datasets"]}
    assert consumed == {"alpha": 150, "b": 50}


def test_advance_skips_whole_global_batches(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, grad_accum_steps=2)
    with build_train_data(cfg, 0, 1) as data:
        straight = ids_of(take(data, 2 * 6))
        data.load_state_dict(data.state_dict() | {"datasets": [dict(data.state_dict()["datasets"][0], consumed=0)]})
        data.advance(4)
        assert ids_of(take(data, 2 * 2)) == straight[16:]


def test_resume_refuses_a_changed_order(tmp_path, dataset, other_dataset):
    with build_train_data(make_cfg(tmp_path, dataset), 0, 1) as data:
        state = data.state_dict()
    with build_train_data(make_cfg(tmp_path, dataset, seed=7), 0, 1) as data, pytest.raises(UserError, match="seed"):
        data.load_state_dict(state)
    with build_train_data(make_cfg(tmp_path, other_dataset), 0, 1) as data, pytest.raises(UserError, match="datasets"):
        data.load_state_dict(state)


def test_val_batches_are_deterministic_rank_slices(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, micro_batch_size=1, eval_batches=4)
    ranks = [build_val_batches(cfg, r, 2) for r in range(2)]
    assert [len(b) for b in ranks] == [3, 3]  # 6 val samples / (1 × 2 ranks)
    ids = [i for b in range(3) for r in range(2) for i in ranks[r][b].sample_ids]
    assert ids == [f"alpha/val/{sample_key(0, i)}" for i in range(6)]
    assert ids_of(build_val_batches(cfg, 1, 2)) == ids_of(ranks[1])


def test_seq_len_crops_and_info_reports_the_data(tmp_path, dataset, other_dataset):
    cfg = make_cfg(tmp_path, mix=[MixEntry(path=str(dataset)), MixEntry(path=str(other_dataset))], seq_len=8)
    info = data_info(cfg)
    assert (info.vocab_size, info.seq_len, info.eos_id, info.bytes_per_token) == (VOCAB, 8, EOS, 4.0)
    assert len(info.manifests) == 2 and info.tokenizer_path.endswith(TOKENIZER_NAME)
    with build_train_data(cfg, 0, 1) as data:
        assert next(data).inputs.shape == (2, 8)
    with pytest.raises(ConfigError, match="seq_len"):
        data_info(make_cfg(tmp_path, dataset, seq_len=SEQ_LEN + 1))


def test_mix_with_different_tokenizers_is_refused(tmp_path, dataset):
    foreign = make_dataset(tmp_path / "foreign", [4], tokenizer=b'{"other": 1}')
    with pytest.raises(UserError, match="different tokenizers"):
        data_info(make_cfg(tmp_path, mix=[MixEntry(path=str(dataset)), MixEntry(path=str(foreign))]))


def _corrupt_middle_of_shard(root: Path, number: int) -> Path:
    path = root / shard_name("train", number)
    second = int(np.load(root / index_name(shard_name("train", number)))[1])
    data = bytearray(path.read_bytes())
    data[second:second + 64] = b"\xff" * 64  # the second sample's tar header
    path.write_bytes(bytes(data))
    return path


def test_corrupt_shard_is_an_error_naming_the_file(tmp_path):
    root = make_dataset(tmp_path / "bad", [4, 4])
    path = _corrupt_middle_of_shard(root, 1)
    cfg = make_cfg(tmp_path, root, micro_batch_size=8, shuffle=False, num_workers=2)
    with build_train_data(cfg, 0, 1) as data, pytest.raises(UserError, match=str(path)):
        next(data)


def test_missing_shard_is_an_error_at_start(tmp_path):
    root = make_dataset(tmp_path / "bad", [4, 4], [2])
    (root / shard_name("val", 0)).unlink()
    with pytest.raises(UserError, match=f"corrupt shard {root / shard_name('val', 0)}: cannot open"):
        data_info(make_cfg(tmp_path, root))


def test_corrupt_samples_are_counted_and_masked_with_skip(tmp_path):
    root = make_dataset(tmp_path / "bad", [4, 4])
    _corrupt_middle_of_shard(root, 1)
    (root / shard_name("train", 0)).unlink()
    cfg = make_cfg(tmp_path, root, micro_batch_size=8, shuffle=False, on_corrupt=OnCorrupt.skip)
    with build_train_data(cfg, 0, 1) as data:
        batch = next(data)
        state = data.state_dict()
    masked = (batch.targets == IGNORE_INDEX).all(dim=1)
    assert len(batch.skipped) == 5 and int(masked.sum()) == 5
    assert batch.skipped == [batch.sample_ids[i] for i in (0, 1, 2, 3, 5)]  # shard 0 (missing), shard 1 sample 1
    assert state["global_samples"] == 8
    assert data.metrics()["data/skipped_corrupt"] == 5


def test_sample_id_log_records_every_row(tmp_path, dataset):
    cfg = make_cfg(tmp_path, dataset, log_sample_ids=True)
    with build_train_data(cfg, 0, 1) as data:
        expected = ids_of(take(data, 3))
    lines = (Path(cfg.run_dir) / "sample_ids" / "rank00000.jsonl").read_text().splitlines()
    assert [i for line in lines for i in json.loads(line)["ids"]] == expected


def test_a_moved_dataset_resumes_in_the_same_order(tmp_path, dataset):
    import shutil

    moved = tmp_path / "copied_elsewhere"
    shutil.copytree(dataset, moved)
    with build_train_data(make_cfg(tmp_path, dataset), 0, 1) as data:
        straight = [i.split("/", 1)[1] for i in ids_of(take(data, 8))]
    with build_train_data(make_cfg(tmp_path, dataset), 0, 1) as data:
        take(data, 3)
        state = data.state_dict()
    with build_train_data(make_cfg(tmp_path, moved), 0, 1) as data:
        data.load_state_dict(state)
        assert [i.split("/", 1)[1] for i in ids_of(take(data, 5))] == straight[6:]


def test_new_mixture_weights_apply_from_the_resume_point(tmp_path, dataset, other_dataset):
    def mix(a: float, b: float) -> list[MixEntry]:
        return [MixEntry(path=str(dataset), weight=a), MixEntry(path=str(other_dataset), weight=b)]

    with build_train_data(make_cfg(tmp_path, mix=mix(1, 1)), 0, 1) as data:
        take(data, 10)
        state = json.loads(json.dumps(data.state_dict()))
    with build_train_data(make_cfg(tmp_path, mix=mix(1, 1)), 0, 1) as data:  # same weights: same anchor
        data.load_state_dict(state)
        assert data.state_dict() == state
    with build_train_data(make_cfg(tmp_path, mix=mix(3, 1)), 0, 1) as data:
        data.load_state_dict(state)
        ids = ids_of(take(data, 20))
        resumed = data.state_dict()
    for n in range(1, len(ids) + 1):  # no burst of beta to "catch up": 3:1 from here on
        assert abs(sum(i.startswith("alpha/") for i in ids[:n]) - 0.75 * n) <= 1
    with build_train_data(make_cfg(tmp_path, mix=mix(3, 1)), 0, 1) as data:  # the new anchor is kept
        data.load_state_dict(resumed)
        assert [e["weight_since"] for e in data.state_dict()["datasets"]] == [10, 10]


def test_a_dataset_joining_the_mix_starts_at_zero(tmp_path, dataset, other_dataset):
    """A continued run (the self-feedback loop) gains a dataset: the old one goes on, the new one starts at 0."""
    with build_train_data(make_cfg(tmp_path, mix=[MixEntry(path=str(dataset))]), 0, 1) as data:
        straight = ids_of(take(data, 12))
    with build_train_data(make_cfg(tmp_path, mix=[MixEntry(path=str(dataset))]), 0, 1) as data:
        take(data, 5)
        state = json.loads(json.dumps(data.state_dict()))
    grown = [MixEntry(path=str(dataset), weight=1.0), MixEntry(path=str(other_dataset), weight=1.0)]
    with build_train_data(make_cfg(tmp_path, mix=grown), 0, 1) as data:
        data.load_state_dict(state)
        assert {e["name"]: e["consumed"] for e in data.state_dict()["datasets"]} == {"alpha": 10, "beta": 0}
        ids = ids_of(take(data, 10))
    alpha = [i for i in ids if i.startswith("alpha/")]
    assert alpha == straight[10:10 + len(alpha)]  # nothing of alpha repeated or skipped
    assert sorted(i for i in ids if i.startswith("beta/"))  # beta joined, from its own first samples
    with build_train_data(make_cfg(tmp_path, mix=[MixEntry(path=str(other_dataset))]), 0, 1) as data, \
            pytest.raises(UserError, match="not all in this run's"):
        data.load_state_dict(state)  # a dataset dropped from the mix would lose its position


def test_a_dataset_may_leave_the_mix_when_allowed(tmp_path, dataset, other_dataset):
    """The loop's synthetic=replace: last round's synthetic set leaves, the next joins; the real one goes on."""
    both = [MixEntry(path=str(dataset), weight=1.0), MixEntry(path=str(other_dataset), weight=1.0)]
    with build_train_data(make_cfg(tmp_path, mix=both), 0, 1) as data:
        take(data, 5)
        state = json.loads(json.dumps(data.state_dict()))
    alpha_only = [MixEntry(path=str(dataset))]
    with build_train_data(make_cfg(tmp_path, mix=alpha_only, allow_dropped_datasets=True), 0, 1) as data:
        data.load_state_dict(state)
        consumed = {e["name"]: e["consumed"] for e in state["datasets"]}
        assert data.state_dict()["datasets"][0]["consumed"] == consumed["alpha"]
