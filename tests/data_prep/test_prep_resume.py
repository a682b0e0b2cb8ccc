"""Execution: kill at any moment and rerun -> byte-identical shards; tasks + merge; workers don't change output."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_prep.api import prepare
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # runs (and kills) python -m data_prep subprocesses or worker pools

SMALL = ["max_docs=90", "seq_len=32", "tokenizer.vocab_size=300", "samples_per_shard=512", "chunk_docs=4",
         "val_fraction=0.1", "progress=false", "report=false", "rejects=true", "checkpoint_every_s=0.05"]
POLL_S = 0.005
KILL_TIMEOUT_S = 60


def digest_tree(out: Path) -> dict[str, str]:
    """sha256 of every shard plus the manifest's shard list and stats (the parts a rerun must reproduce)."""
    files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
             for split in ("train", "val") for p in sorted((out / split).glob("*"))}
    manifest = json.loads((out / "manifest.json").read_text())
    files["manifest.shards"] = json.dumps(manifest["shards"])
    files["manifest.stats"] = json.dumps(manifest["stats"])
    files["tokenizer.json"] = hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest()
    return files


def shard_count(out: Path) -> int:
    return len(list((out / "train").glob("shard-*.tar"))) if (out / "train").is_dir() else 0


def run_and_kill_at(out: Path, min_shards: int, args: list[str] = SMALL) -> bool:
    """Start a prep run, SIGKILL it once ``min_shards`` train shards exist; False if it finished first."""
    proc = subprocess.Popen([sys.executable, "-m", "data_prep", f"out_dir={out}", *args], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while proc.poll() is None and shard_count(out) < min_shards and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if proc.poll() is not None:
        assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reference") / "out"
    prepare([f"out_dir={out}", *SMALL])
    return digest_tree(out)


@pytest.mark.integration
def test_killed_runs_resume_to_identical_output(tmp_path: Path, reference: dict[str, str]) -> None:
    out = tmp_path / "out"
    total = sum(1 for k in reference if k.startswith("train/"))
    assert total >= 8, "the test corpus must give enough shards to kill in between"
    kills = 0
    for min_shards in (0, 1, total // 3, total // 3 + 1, (2 * total) // 3, total):
        kills += run_and_kill_at(out, min_shards)
    assert kills >= 4  # most kill points hit a running process
    prepare([f"out_dir={out}", *SMALL])
    assert digest_tree(out) == reference
    leftovers = [p.name for p in out.rglob("*.tmp*")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    assert rejects_of(out) == json.loads(reference["manifest.stats"])["rejected"]  # each rejection once


def rejects_of(out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in (out / "rejects").rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            reason = json.loads(line)["reason"]
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def test_workers_do_not_change_output(tmp_path: Path, reference: dict[str, str]) -> None:
    out = tmp_path / "out"
    prepare([f"out_dir={out}", *SMALL, "num_workers=2"])
    assert digest_tree(out) == reference


def test_tasks_then_merge_equals_one_command(tmp_path: Path) -> None:
    split_out, single_out = tmp_path / "split", tmp_path / "single"
    for task_id in (2, 0, 1):  # any order, as a Slurm array would run them
        assert prepare([f"out_dir={split_out}", *SMALL, "num_tasks=3", f"task_id={task_id}"]) is None
    merged = prepare([f"out_dir={split_out}", *SMALL, "num_tasks=3", "step=merge"])
    prepare([f"out_dir={single_out}", *SMALL, "num_tasks=3"])
    assert digest_tree(split_out) == digest_tree(single_out)
    stats = merged.stats
    assert stats["docs_in"] == 90 and len(stats["tasks"]) == 3
    assert [t["docs_in"] for t in stats["tasks"]] == [30, 30, 30]
    for part in [stats, *stats["tasks"]]:
        assert part["docs_in"] == part["docs_written"] + sum(part["rejected"].values())
    tasks_of_shards = {int(Path(s.path).stem.split("-")[1]) // 100_000 for s in merged.shards}
    assert tasks_of_shards == {0, 1, 2}


def test_merge_before_all_tasks_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare([f"out_dir={out}", *SMALL, "num_tasks=2", "task_id=1"])
    proc = subprocess.run([sys.executable, "-m", "data_prep", f"out_dir={out}", *SMALL, "num_tasks=2", "step=merge"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "1 of 2 tasks" in proc.stderr and "Traceback" not in proc.stderr
