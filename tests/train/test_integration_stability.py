"""Issue 4 test 7 and the spike rule: a NaN step is skipped and counted, a loss spike rolls back to the
last checkpoint and skips the batches since; training continues to max_steps either way."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.train.train_helpers import events, last_per_step, records, train

GLOBAL_BATCH = 2 * 4
TOKENS_PER_STEP = GLOBAL_BATCH * 64


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_nan_step_skipped_and_spike_rolled_back(prepared_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    nan_step, spike_step, every, steps = 3, 13, 8, 16
    train(2, f"data.path={prepared_dir}", f"run_dir={run}", "deepspeed=zero2", f"max_steps={steps}", "log_every=1",
          f"checkpoint_every={every}", "eval_every=1000", f"--nan-at-step={nan_step}",
          f"--spike-at-step={spike_step}", "stability.spike_min_history=4")

    skipped = events(run, "skipped_step")
    assert [e["step"] for e in skipped] == [nan_step]  # NaN on rank 0 only; both ranks skipped together
    rollback = events(run, "rollback")
    assert len(rollback) == 1
    r = rollback[0]
    assert (r["spike_step"], r["step"], Path(r["checkpoint"]).name) == (spike_step, every, f"step_{every}")
    assert r["skipped_batches"] == spike_step - every and r["loss"] > 3 * r["running_mean"]
    assert r["data_position"] == spike_step * GLOBAL_BATCH  # the data stream did not rewind

    # The first step after the rollback is every+1 again and it reads the batch after the spike.
    after = records(run)[records(run).index(r) + 1]
    assert after["step"] == every + 1 and after["data_position"] == (spike_step + 1) * GLOBAL_BATCH
    losses = last_per_step(run)
    assert sorted(losses) == [s for s in range(1, steps + 1) if s != nan_step]  # NaN loss is logged as null
    assert all(math.isfinite(v) and v < 10 for v in losses.values())
    final = [rec for rec in records(run) if rec.get("step") == steps and "loss" in rec][-1]
    assert final["skipped_steps"] == 1 and final["rollbacks"] == 1
    assert final["tokens_seen"] == (steps - 1) * TOKENS_PER_STEP
    assert final["data_position"] == (steps + spike_step - every) * GLOBAL_BATCH


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_nan_step_skipped_by_our_guard_on_zero0(prepared_dir: Path, tmp_path: Path) -> None:
    """Plain fp32 ZeRO-0 has no DeepSpeed overflow check; train.engine's guard must skip the step."""
    run = tmp_path / "run"
    train(1, f"data.path={prepared_dir}", f"run_dir={run}", "deepspeed=zero0", "max_steps=6", "log_every=1",
          "checkpoint_every=100", "eval_every=1000", "--nan-at-step=2")
    assert [e["step"] for e in events(run, "skipped_step")] == [2]
    losses = last_per_step(run)
    assert sorted(losses) == [1, 3, 4, 5, 6] and all(math.isfinite(v) for v in losses.values())
    assert losses[6] < losses[1]
