"""Bad input to ``python -m train`` fails at start with one line naming the problem (issue 2's bar)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_module

pytestmark = pytest.mark.slow  # each case runs python -m train in a subprocess


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ((), "config key 'data.path'"),
        (("data.path=/nonexistent/prepared",), "data directory does not exist: /nonexistent/prepared"),
        (("data.path={empty}",), "no manifest.json in"),
        (("data.path={empty}", "max_steps=-1"), "config key 'max_steps': must be >= 0"),
        (("data.path={empty}", "stability.spike_factor=0.5"), "config key 'stability.spike_factor'"),
        # Hydra's own hint for a typo is `+key=...`, which it then accepts; ours still refuses it
        (("data.path={empty}", "+max_stepz=3"), "config key 'max_stepz': unknown key (did you mean 'max_steps'?)"),
        (("data.path={empty}", "+data.foo=1"), "config key 'data.foo': unknown key"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, overrides: tuple[str, ...], expected: str) -> None:
    args = [o.replace("{empty}", str(tmp_path)) for o in overrides]
    proc = run_module("train", f"run_dir={tmp_path / 'run'}", *args, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
