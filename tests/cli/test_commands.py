"""The README's commands: one venv setup shared by quickstart.sh, test.sh and .ci/run; CI runs the README's line."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

SCRIPTS = ["quickstart.sh", "test.sh", ".ci/run"]


def _readme_block(heading: str) -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split(f"\n## {heading}", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no bash block under '## {heading}'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _commands(script: str) -> list[str]:
    lines = (REPO_ROOT / script).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme_test = _readme_block("Tests (one command)")[0]
    assert _commands(".ci/run")[-1] == readme_test
    assert readme_test == "bash test.sh"


def test_fast_tier_is_documented_under_the_test_command() -> None:
    assert _readme_block("Tests (one command)")[1].startswith('bash test.sh -m "not slow"')


def test_every_script_sets_up_the_venv_the_same_way() -> None:
    for script in SCRIPTS:
        commands = _commands(script)
        assert any(line.startswith("bash scripts/setup_venv.sh") for line in commands), script
        # Installing is setup_venv.sh's job alone; and nothing relies on an activated venv or PATH.
        assert not any("pip install" in line or "activate" in line for line in commands), script
        assert not any(re.match(r"(python|torchrun|pytest)\b", line) for line in commands), script


def test_test_command_runs_pytest_with_the_venv_python() -> None:
    # Two xdist workers, one module per worker at a time, handed out in tests/conftest.py's order.
    assert _commands("test.sh")[-1] == 'exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"'
