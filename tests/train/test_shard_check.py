"""The start-up shard check: one stat per file, split between the ranks, every rank stopping together."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import train.data.shard_check as shard_check
from openpretrain.manifest import load_manifest, shard_name
from openpretrain.shard_index import index_name
from tests.train.test_data_loader import make_dataset
from tests.train.train_helpers import train
from train.data.datasets import Dataset
from train.data.shard_check import ShardProblem, Stripe, find_shard_problems, report_shard_problems


def _datasets(root: Path) -> list[Dataset]:
    return [Dataset(label="d", weight=1.0, manifest=load_manifest(str(root)))]


def test_stripes_share_out_the_stats_and_together_find_every_problem(tmp_path, monkeypatch):
    root = make_dataset(tmp_path / "d", [4, 4, 4, 4], [4])  # 5 shards, 10 files (tar + index each)
    (root / index_name(shard_name("train", 1))).unlink()
    tar = root / shard_name("train", 2)
    tar.write_bytes(tar.read_bytes()[:-512])
    datasets = _datasets(root)
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path, *args, **kwargs):
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(shard_check.os, "stat", counting_stat)
    everything = find_shard_problems(datasets)
    assert [(p.path, p.detail.split(" (")[0]) for p in everything] == [
        (str(root / index_name(shard_name("train", 1))), "cannot open"),
        (str(tar), f"file has {tar.stat().st_size} bytes, manifest says {tar.stat().st_size + 512}")]
    stats.clear()
    per_rank = [find_shard_problems(datasets, Stripe(rank, 3)) for rank in range(3)]
    assert len(stats) == 10 and len(set(stats)) == 10  # each file stat'ed once in all, not once per rank
    assert sorted((p for problems in per_rank for p in problems), key=lambda p: p.position) == everything
    assert [len(problems) for problems in per_rank] == [1, 1, 0]  # files 3 and 4 of 0..9 (tar, index, tar, ...)


def test_report_stops_at_the_first_problem_or_warns_with_skip(caplog):
    problems = [ShardProblem(1, "/d/train/shard-000000.idx", "cannot open (No such file or directory)"),
                ShardProblem(6, "/d/train/shard-000003.tar", "file has 1 bytes, manifest says 2")]
    with pytest.raises(Exception, match=r"corrupt shard /d/train/shard-000000\.idx: cannot open"):
        report_shard_problems(problems, skip_corrupt=False)
    report_shard_problems(problems, skip_corrupt=True)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [p.path for p in problems]
    caplog.clear()
    report_shard_problems(problems, skip_corrupt=True, warn=False)  # a rank that is not the main one
    assert not caplog.records


def test_the_stripe_comes_from_the_launcher(monkeypatch):
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert Stripe.from_launcher() == Stripe(5, 8)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert Stripe.from_launcher() == Stripe(0, 1)


@pytest.mark.slow  # two torchrun ranks
def test_a_problem_only_one_rank_stats_stops_both_ranks(prepared_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared_dir, data)
    manifest = load_manifest(str(data))
    missing = Path(manifest.index_path(manifest.shards[0]))  # file 1 of the list: rank 1's stripe of 2
    missing.unlink()
    proc = train(2, f"data.path={data}", f"run_dir={tmp_path / 'run'}", "max_steps=2", expect_rc=None,
                 timeout=240)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # Rank 0 never stat'ed the file, yet it stops with the same one line instead of waiting in a collective.
    assert output.count(f"error: corrupt shard {missing}: cannot open") == 2, output[-3000:]
    assert not (tmp_path / "run" / "checkpoints").exists()
