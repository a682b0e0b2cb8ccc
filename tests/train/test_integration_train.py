"""Issue 2 item 8: prep -> 2-process ZeRO-2 on CPU for 20 steps -> checkpoint -> same command with
max_steps=30 resumes at step 20 -> the loss went down. Also: one W&B run across the restart (issue 4
test 6), keep-K pruning, rank 0's resolved config, and the end-of-run summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.train_helpers import WANDB_OFFLINE, events, last_per_step, records, train
from train import checkpoint as ckpt

TOKENS_PER_STEP = 2 * 4 * 64  # ranks x micro x seq_len


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_prep_train_resume_two_ranks(prepared_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [f"data.path={prepared_dir}", f"run_dir={run}", "deepspeed=zero2", "log_every=5", "eval_every=10",
               "checkpoint_every=10", "keep_checkpoints=2", WANDB_OFFLINE]
    first = train(2, *command, "max_steps=20")
    for label in ("checkpoint:", "metrics:", "W&B run:"):
        assert label in first.stdout, first.stdout[-3000:]
    ref20 = ckpt.latest_complete(str(run))
    assert ref20.step == 20 and ref20.world_size == 2 and ref20.zero_stage == 2
    assert (run / "checkpoints" / ckpt.LATEST).read_text() == "step_20"
    assert "max_steps: 20" in (run / "config.yaml").read_text()
    run_id = ckpt.read_client_state(ref20)["train"]["wandb_run_id"]

    train(2, *command, "max_steps=30")
    resumes = events(run, "resume")
    assert [(e["step"], Path(e["checkpoint"]).name) for e in resumes] == [(20, "step_20")]
    after_resume = records(run)[records(run).index(resumes[0]) + 1]
    assert after_resume["step"] == 21  # the first step of the resumed run is logged

    losses = last_per_step(run)
    assert sorted(losses) == [1, 5, 10, 15, 20, 21, 25, 30]
    assert losses[30] < losses[1]
    final = [r for r in records(run) if r.get("step") == 30 and "loss" in r][-1]
    assert final["tokens_seen"] == 30 * TOKENS_PER_STEP
    assert final["data_position"] == 30 * 8
    assert final["val_bpb"] > 0 and final["val_ppl"] > 1 and final["tokens_per_s"] > 0
    assert final["skipped_steps"] == 0 and final["lr"] > 0 and final["grad_norm"] > 0

    # keep_checkpoints=2: step_10 is gone; the W&B run is the same one before and after the restart.
    assert [r.step for r in ckpt.complete_checkpoints(str(run))] == [20, 30]
    assert ckpt.read_client_state(ckpt.latest_complete(str(run)))["train"]["wandb_run_id"] == run_id
    wandb_runs = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(wandb_runs) == 2 and all(f"-{run_id}" in name for name in wandb_runs)
