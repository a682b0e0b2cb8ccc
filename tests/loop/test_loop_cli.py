"""`python -m launch job=loop` refuses bad input with one `error:` line, before anything runs."""

from __future__ import annotations

import pytest

from tests.loop.loop_helpers import loop_argv, prepare_real, run_loop


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return prepare_real(tmp_path_factory.mktemp("real") / "real", 30)


@pytest.mark.parametrize(("override", "message"), [
    ("loop.rounds=0", "'loop.rounds': must be >= 1, got 0"),
    ("loop.max_synthetic_share=1.5", "'loop.max_synthetic_share': must be in (0, 1), got 1.5"),
    ("loop.max_synthetic_share=0", "'loop.max_synthetic_share': must be in (0, 1), got 0"),
    ("loop.synthetic=mix", "'loop.synthetic': must be one of accumulate, replace, got 'mix'"),
    ("loop.train=resume", "'loop.train': must be one of continue, scratch, got 'resume'"),
    ("loop.patience=0", "'loop.patience': must be >= 1"),
    ("loop.eval_text_files=[/nonexistent.txt]", "'loop.eval_text_files[0]': file not found"),
])
def test_bad_loop_settings_fail_in_one_line(real, tmp_path, override, message):
    proc = run_loop(loop_argv(tmp_path / "loop", real, override), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert not (tmp_path / "loop").exists()


def test_missing_real_data_fails_in_one_line(tmp_path):
    proc = run_loop(loop_argv(tmp_path / "loop", tmp_path / "nothing"), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: loop.real_data={tmp_path / 'nothing'}: no manifest.json")


def test_keys_the_loop_sets_are_refused_after_the_separator(real, tmp_path):
    proc = run_loop([*loop_argv(tmp_path / "loop", real), f"run_dir={tmp_path}/r"], check=False)
    assert proc.returncode == 2
    assert "error: loop: run_dir is set by the loop itself" in proc.stderr, proc.stderr
