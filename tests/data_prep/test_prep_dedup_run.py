"""Whole-run dedup through the pipeline: filter per task -> dedup (buckets + union) -> pack per task."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from data_prep.api import prepare
from openpretrain.errors import UserError
from tests.conftest import run_module
from tests.data_prep.test_prep_resume import digest_tree, run_and_kill_at

GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau phi"
WORDS = GREEK.split(" ")
UNIQUE = 60


def corpus(path: Path) -> Path:
    rng = random.Random(0)
    docs = [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(UNIQUE)]
    near = docs[7].split()
    near[10] = "changed"
    rows = docs + [docs[3], docs[40].upper(), " ".join(near)]  # exact, exact after normalising, near
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in rows), encoding="utf-8")
    return path


def overrides(out: Path, data: Path, *extra: str) -> list[str]:
    return [f"out_dir={out}", "source=local", f"source.paths=[{data}]", "pipeline.dedup.exact=true",
            "pipeline.dedup.near=true", "seq_len=16", "tokenizer.vocab_size=300", "samples_per_shard=64",
            "chunk_docs=8", "num_tasks=3", "progress=false", "report=false", *extra]


def test_duplicates_across_tasks_are_removed_and_counted(tmp_path: Path) -> None:
    data = corpus(tmp_path / "c.jsonl")
    manifest = prepare(overrides(tmp_path / "out", data, "rejects=true"))
    stats = manifest.stats
    logged = [json.loads(line) for p in (tmp_path / "out" / "rejects" / "dedup").rglob("*.jsonl")
              for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["reason"] for r in logged) == ["dedup/exact", "dedup/exact", "dedup/near"]
    assert stats["rejected"] == {"dedup/exact": 2, "dedup/near": 1}
    assert stats["docs_in"] == UNIQUE + 3 and stats["docs_written"] == UNIQUE
    for part in [stats, *stats["tasks"]]:
        assert part["docs_in"] == part["docs_written"] + sum(part["rejected"].values())
    assert not list((tmp_path / "out" / "_prep").rglob("part-*.parquet"))  # intermediate parts cleaned up


@pytest.mark.slow
def test_phases_as_separate_commands_equal_one_command(tmp_path: Path) -> None:
    data = corpus(tmp_path / "c.jsonl")
    split, single = tmp_path / "split", tmp_path / "single"
    for task_id in range(3):
        assert prepare(overrides(split, data, f"task_id={task_id}")) is None  # filter phase only
    prepare(overrides(split, data, "step=dedup"))
    for task_id in (1, 0, 2):
        assert prepare(overrides(split, data, f"task_id={task_id}")) is None  # pack phase
    prepare(overrides(split, data, "step=merge"))
    prepare(overrides(single, data))
    assert digest_tree(split) == digest_tree(single)
    kept = sorted(p.name for p in (split / "_prep" / "dedup").iterdir())  # runs and groups deleted once decided
    assert kept == ["done"] + [f"removed-task-{t:05d}.tsv" for t in range(3)]


def test_bucket_array_then_union_equal_one_command(tmp_path: Path) -> None:
    """The Slurm form: filter array -> step=dedup_bucket bucket_id=J (any order) -> step=dedup_union -> pack."""
    data = corpus(tmp_path / "c.jsonl")
    split, single = tmp_path / "split", tmp_path / "single"
    for task_id in range(3):
        prepare(overrides(split, data, "step=filter", f"task_id={task_id}", "pipeline.dedup.buckets=3"))
    with pytest.raises(UserError, match=r"2 of 3 buckets have not run yet \(step=dedup_bucket bucket_id=0, 1\)"):
        prepare(overrides(split, data, "step=dedup_bucket", "bucket_id=2", "pipeline.dedup.buckets=3"))
        prepare(overrides(split, data, "step=dedup_union", "pipeline.dedup.buckets=3"))
    for bucket_id in (1, 0):
        prepare(overrides(split, data, "step=dedup_bucket", f"bucket_id={bucket_id}", "pipeline.dedup.buckets=3"))
    prepare(overrides(split, data, "step=dedup_union", "pipeline.dedup.buckets=3"))
    prepare(overrides(split, data, "step=pack", "pipeline.dedup.buckets=3"))
    prepare(overrides(single, data, "pipeline.dedup.buckets=3"))
    assert digest_tree(split) == digest_tree(single)
    assert json.loads((split / "manifest.json").read_text())["stats"]["rejected"] == {"dedup/exact": 2,
                                                                                       "dedup/near": 1}


@pytest.mark.parametrize(("args", "message"), [
    (["step=dedup_bucket"], "error: config key 'bucket_id': step=dedup_bucket needs bucket_id in [0, pipeline.dedup.buckets=4)"),
    (["step=dedup_bucket", "bucket_id=4"], "needs bucket_id in [0, pipeline.dedup.buckets=4), got 4"),
    (["bucket_id=1"], "'bucket_id': only applies with step=dedup_bucket"),
    (["step=dedup_bucket", "bucket_id=0"], "signatures of 3 of 3 tasks are not sorted yet"),
])
def test_bad_bucket_commands_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    data = corpus(tmp_path / "c.jsonl")
    proc = run_module("data_prep", *overrides(tmp_path / "out", data, *args), check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_killed_two_pass_run_resumes_to_identical_output(tmp_path: Path) -> None:
    data = corpus(tmp_path / "c.jsonl")
    reference = tmp_path / "reference"
    prepare(overrides(reference, data))
    out = tmp_path / "out"
    args = overrides(out, data)[1:]
    for min_shards in (0, 1, 3):
        run_and_kill_at(out, min_shards, args)
    prepare(overrides(out, data))
    assert digest_tree(out) == digest_tree(reference)
