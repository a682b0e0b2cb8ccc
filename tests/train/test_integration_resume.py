"""Issue 4 tests 1, 3 and 4 plus world-size change, on 2 CPU ranks with real DeepSpeed.

One interrupted lineage is compared with one uninterrupted reference run of the same command:
SIGTERM to one rank (clean save + exit 0) -> restart that is SIGKILLed inside a checkpoint save (the
previous checkpoint must load) -> restart SIGKILLed from outside at a random step -> restart to the end.
The loss of every step and the sample behind every global position must match the reference exactly.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from tests.train.train_helpers import (
    events,
    kill_all,
    last_per_step,
    records,
    sample_positions,
    start,
    train,
    wait_for_step,
    worker_pids,
)
from train import checkpoint as ckpt

STEPS, EVERY = 24, 8
GLOBAL_BATCH = 2 * 4  # ranks x micro


def _command(data: Path, run: Path, *extra: str) -> list[str]:
    return [f"data.path={data}", f"run_dir={run}", "deepspeed=zero2", f"max_steps={STEPS}", "log_every=1",
            f"checkpoint_every={EVERY}", "eval_every=1000", "data.log_sample_ids=true", *extra]


@pytest.fixture(scope="module")
def reference(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run every scenario is compared against (2 ranks, ZeRO-2, fp32 on CPU)."""
    run = tmp_path_factory.mktemp("reference") / "run"
    train(2, *_command(prepared_dir, run))
    return run




@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_preempt_crash_in_save_and_kill_resume_exactly(prepared_dir: Path, reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = _command(prepared_dir, run)

    # Test 3: SIGTERM reaching only rank 1 -> every rank stops at the same step, complete checkpoint, rc 0.
    proc = start(2, *cmd, log_path=tmp_path / "1.log")
    line0 = len(records(run))
    wait_for_step(proc, run, 3, after_line=line0, log_path=tmp_path / "1.log")
    os.kill(worker_pids(proc)[1], signal.SIGTERM)
    assert proc.wait(timeout=180) == 0, (tmp_path / "1.log").read_text()[-3000:]
    stopped = events(run, "preempted")[-1]["step"]
    assert stopped < STEPS and ckpt.latest_complete(str(run)).step == stopped

    # Test 4: rank 0 is SIGKILLed after writing step_16's files, before its marker.
    crashed = train(2, *cmd, "--kill-in-save-at-step=16", expect_rc=None)
    assert crashed.returncode != 0
    assert (run / "checkpoints" / "step_16").is_dir() and not (run / "checkpoints" / "step_16" / ckpt.MARKER).exists()
    assert ckpt.latest_complete(str(run)).step == EVERY
    assert (run / "checkpoints" / ckpt.LATEST).read_text() == f"step_{EVERY}"

    # Test 1: restart (resumes from step_8, the previous complete one), SIGKILL everything at a random step
    # well before the end (polling a loaded machine can lag a few steps behind the run).
    kill_at = random.randint(EVERY + 2, EVERY + 6)
    proc = start(2, *cmd, log_path=tmp_path / "3.log")
    wait_for_step(proc, run, kill_at, after_line=len(records(run)), log_path=tmp_path / "3.log")
    kill_all(proc)
    train(2, *cmd)

    resumed_from = [Path(e["checkpoint"]).name for e in events(run, "resume")]
    assert resumed_from[:2] == [f"step_{stopped}", f"step_{max(stopped, EVERY)}"], resumed_from
    assert resumed_from[2:] == [f"step_{EVERY}"], f"killed at step >= {kill_at}: {resumed_from}"
    expected, got = last_per_step(reference), last_per_step(run)
    assert sorted(got) == list(range(1, STEPS + 1))
    for step in expected:  # fp32 on CPU, same reduction order: bit-for-bit is expected, 1e-6 allowed
        assert got[step] == pytest.approx(expected[step], rel=1e-6), f"step {step} (killed at >= {kill_at})"
    reference_samples = sample_positions(reference)
    assert sorted(reference_samples) == list(range(STEPS * GLOBAL_BATCH))
    assert sample_positions(run) == reference_samples
    final = [r for r in records(run) if r.get("step") == STEPS and "loss" in r][-1]
    assert final["data_position"] == STEPS * GLOBAL_BATCH
    assert final["tokens_seen"] == STEPS * GLOBAL_BATCH * 64


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
@pytest.mark.parametrize("stage,ranks_before,ranks_after", [(1, 2, 1), (2, 1, 2), (3, 2, 1)])
def test_world_size_change_through_universal_checkpoint(
    prepared_dir: Path, reference: Path, tmp_path: Path, stage: int, ranks_before: int, ranks_after: int
) -> None:
    """Same global batch on either side (accumulation makes up for the ranks): the losses after the
    resume continue the reference run's, which they can only do if weights, Adam moments, the LR schedule
    and the data position all carried over."""
    run = tmp_path / "run"

    def command(ranks: int, max_steps: int) -> list[str]:
        return [*_command(prepared_dir, run, f"deepspeed=zero{stage}", f"grad_accum_steps={2 // ranks}"),
                f"max_steps={max_steps}"]

    train(ranks_before, *command(ranks_before, EVERY))
    train(ranks_after, *command(ranks_after, EVERY + 4))
    resume = events(run, "resume")[-1]
    assert (resume["from_world_size"], resume["world_size"], resume["step"]) == (ranks_before, ranks_after, EVERY)
    assert (run / "checkpoints" / f"step_{EVERY}" / ckpt.UNIVERSAL_TAG).is_dir()
    expected, got = last_per_step(reference), last_per_step(run)
    for step in range(1, EVERY + 5):
        assert got[step] == pytest.approx(expected[step], rel=1e-5), f"step {step}"
    assert sample_positions(run) == {p: s for p, s in sample_positions(reference).items()
                                     if p < (EVERY + 4) * GLOBAL_BATCH}
