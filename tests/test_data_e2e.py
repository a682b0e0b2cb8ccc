"""Issue 4, test 5 through the real entry point: a corrupted shard stops training with one line naming the
file, or with data.on_corrupt=skip becomes a counted, logged skip while training goes on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from openpretrain.manifest import sample_key
from tests.conftest import run_module

pytestmark = pytest.mark.integration

TRAIN = ["model=tiny", "logger.mode=disabled", "micro_batch_size=4", "eval_batches=1", "data.num_workers=1"]


def _copy(prepared_dir: Path, tmp_path: Path) -> tuple[Path, dict]:
    copy = tmp_path / "data"
    shutil.copytree(prepared_dir, copy)
    return copy, json.loads((copy / "manifest.json").read_text())["shards"][0]


def test_truncated_shard_stops_training_naming_the_file(prepared_dir, tmp_path):
    copy, shard = _copy(prepared_dir, tmp_path)
    path = copy / shard["path"]
    path.write_bytes(path.read_bytes()[:1000])
    proc = run_module("train", f"data.path={copy}", f"run_dir={tmp_path / 'run'}", "max_steps=2", *TRAIN,
                      check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"error: corrupt shard {path}: file has 1000 bytes" in proc.stderr.strip().splitlines()[-1]


def test_corrupt_sample_is_skipped_counted_and_logged(prepared_dir, tmp_path):
    copy, shard = _copy(prepared_dir, tmp_path)
    path = copy / shard["path"]
    data = bytearray(path.read_bytes())
    start = int(np.load(copy / shard["index"])[2])
    data[start:start + 100] = b"\xff" * 100  # sample 2's tar header
    path.write_bytes(bytes(data))
    run_dir = tmp_path / "run"
    proc = run_module("train", f"data.path={copy}", f"run_dir={run_dir}", "max_steps=3", "log_every=1",
                      "data.shuffle=false", "data.on_corrupt=skip", "data.log_sample_ids=true", *TRAIN)
    assert f"skipping corrupt samples in {path}" in proc.stdout + proc.stderr
    steps = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3] and all(r["data/skipped_corrupt"] == 1 for r in steps)
    assert all(r["loss"] == r["loss"] for r in steps)  # finite: the masked row is left out of the loss
    logged = [json.loads(line) for line in (run_dir / "sample_ids" / "rank00000.jsonl").read_text().splitlines()]
    corrupt_id = f"{copy.name}/train/{sample_key(0, 2)}"
    assert [s for r in logged for s in r["skipped"]] == [corrupt_id]
    assert [p for r in logged for p in r["positions"]] == list(range(12))
