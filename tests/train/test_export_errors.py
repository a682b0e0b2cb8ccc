"""Bad input to export / generate / evaluate: one clear line naming the problem."""

from __future__ import annotations

import shutil

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from openpretrain.errors import UserError
from tests.conftest import run_module
from tests.train.configs import tool_config
from tests.train.interop_helpers import make_incomplete_copy, stage_run, stage_runs, trained_run  # noqa: F401
from train.export import export
from train.load import load_run, resolve_checkpoint


def _tokenizer(path, vocab_size: int) -> str:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([f"line {i}: the quick brown fox {i * 7}" for i in range(200)], trainer=trainer)
    tok.save(str(path))
    return str(path)


def test_missing_dir(tmp_path):
    with pytest.raises(UserError, match="directory does not exist"):
        resolve_checkpoint(str(tmp_path / "nope"))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(UserError, match="neither a run dir nor a DeepSpeed checkpoint"):
        resolve_checkpoint(str(tmp_path))


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_half_written_checkpoint(trained_run):  # noqa: F811
    # The fixture's step_3 lacks its marker: named directly it is refused; the run dir skips it.
    with pytest.raises(UserError, match=r"step_3 is incomplete \(no COMPLETE marker"):
        resolve_checkpoint(str(trained_run / "checkpoints" / "step_3"))
    assert resolve_checkpoint(str(trained_run)).tag == "step_2"
    assert resolve_checkpoint(str(trained_run / "checkpoints")).tag == "step_2"


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_run_without_a_complete_checkpoint(stage_runs, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(stage_run(stage_runs, "zero2"), run)
    (run / "checkpoints" / "step_2" / "COMPLETE").unlink()
    with pytest.raises(UserError, match="no complete checkpoint in"):
        resolve_checkpoint(str(run))


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
@pytest.mark.parametrize("vocab_size", [300, 700])
def test_tokenizer_that_does_not_fit_the_model(stage_runs, tmp_path, vocab_size):  # noqa: F811
    tokenizer = _tokenizer(tmp_path / "other.json", vocab_size)
    run = str(stage_run(stage_runs, "zero2"))
    message = r"has \d+ tokens .* but the model has 576 embedding rows: it is not the tokenizer"
    with pytest.raises(UserError, match=message):
        load_run(run, tokenizer=tokenizer)
    with pytest.raises(UserError, match=message):
        export(tool_config("export", checkpoint=run, out=str(tmp_path / "hf"), tokenizer=tokenizer))
    assert not (tmp_path / "hf").exists()


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_cli_prints_one_line(trained_run, tmp_path):  # noqa: F811
    proc = run_module("train.export", f"checkpoint={trained_run / 'checkpoints' / 'step_3'}",
                      f"out={tmp_path / 'hf'}", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: checkpoint:") and "incomplete" in lines[0]
    assert "Traceback" not in proc.stderr
