"""Defects 4 and 5 end to end: a damaged newest checkpoint, all checkpoints damaged, another model in the run dir.

One short real run (one rank, ZeRO-2, two checkpoints); each case works on a copy of its run dir.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.train.train_helpers import events, train
from train import checkpoint as ckpt

STEPS, EVERY = 4, 2
MODEL_FILE = "mp_rank_00_model_states.pt"


def _command(data: Path, run: Path, *extra: str) -> list[str]:
    return [f"data.path={data}", f"run_dir={run}", "deepspeed=zero2", f"max_steps={STEPS}", f"checkpoint_every={EVERY}",
            "keep_checkpoints=2", "eval_every=1000", *extra]


@pytest.fixture(scope="module")
def finished_run(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("ckpt_errors") / "run"
    train(1, *_command(prepared_dir, run))
    assert [r.step for r in ckpt.complete_checkpoints(str(run))] == [EVERY, STEPS]
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _damage(checkpoint: Path) -> None:
    """Overwrite bytes in the middle of the model file, after its save completed (size unchanged)."""
    path = checkpoint / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = b"damaged!"
    path.write_bytes(bytes(data))


def _error_lines(proc) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error:")]


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_damaged_newest_checkpoint_falls_back_with_a_warning(finished_run: Path, prepared_dir: Path,
                                                             tmp_path: Path) -> None:
    run = _copy(finished_run, tmp_path)
    newest = run / "checkpoints" / f"step_{STEPS}"
    _damage(newest)
    proc = train(1, *_command(prepared_dir, run, f"max_steps={STEPS + 1}"))
    output = proc.stdout + proc.stderr
    assert f"checkpoint {newest} is damaged ({MODEL_FILE} does not match the sha256 recorded at save)" in output
    assert Path(events(run, "resume")[-1]["checkpoint"]).name == f"step_{EVERY}"
    assert ckpt.latest_complete(str(run)).step == STEPS + 1


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_every_checkpoint_damaged_is_one_line(finished_run: Path, prepared_dir: Path, tmp_path: Path) -> None:
    run = _copy(finished_run, tmp_path)
    for ref in ckpt.complete_checkpoints(str(run)):
        _damage(Path(ref.path))
    proc = train(1, *_command(prepared_dir, run, f"max_steps={STEPS + 1}"), expect_rc=2)
    assert _error_lines(proc) == [_error_lines(proc)[0]]
    assert _error_lines(proc)[0].startswith(f"error: no checkpoint in {run / 'checkpoints'} verifies (step_{STEPS}: ")
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_another_model_in_the_run_dir_is_one_line(finished_run: Path, prepared_dir: Path, tmp_path: Path) -> None:
    run = _copy(finished_run, tmp_path)
    config_before = (run / "config.yaml").read_text()
    proc = train(1, *_command(prepared_dir, run, "model=llama_125m"), expect_rc=2)
    (line,) = _error_lines(proc)
    assert line.startswith(f"error: {run} holds a checkpoint (step_{STEPS}) of another model: dim=128 (this config: 768)")
    assert line.endswith("use a new run_dir for this model, or model=tiny to continue that run")
    assert "size mismatch" not in proc.stderr and "Traceback" not in proc.stderr
    assert (run / "config.yaml").read_text() == config_before  # the refused config did not replace the run's


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_the_run_dir_carries_its_tokenizer(finished_run: Path) -> None:
    """export / generate / evaluate need only the run dir: the tokenizer is copied there at start."""
    from openpretrain.manifest import file_sha256
    from train.load import open_checkpoint, run_tokenizer

    tok = run_tokenizer(open_checkpoint(str(finished_run)))
    assert tok.path == str(finished_run / "tokenizer.json")
    assert tok.sha256 == file_sha256(str(finished_run / "tokenizer.json"))
