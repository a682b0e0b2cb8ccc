"""``pip install .`` (a wheel, not editable) finds conf/ from any directory: it ships inside the package.

The wheel is built from a copy of the package sources and installed with --no-deps into a fresh venv
whose dependencies come from this interpreter's site-packages (a .pth line), so the test is offline and
takes seconds. The checkout itself is nowhere on the path: cwd is elsewhere and PYTHONPATH is unset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import PREP_OVERRIDES, REPO_ROOT

pytestmark = pytest.mark.slow

PACKAGE_SOURCES = ["pyproject.toml", "setup.py", "README.md", "conf", "openpretrain", "data_prep", "train", "launch"]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in PACKAGE_SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source)], root)
    wheel = next((root / "dist").glob("openpretrain-*.whl"))
    _run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], root)
    python = root / "venv" / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        root).stdout.strip())
    # --target never touches another installation (this interpreter's editable openpretrain stays put).
    _run([*pip, "install", "--no-deps", "--target", str(purelib), str(wheel)], root)
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_installed_wheel_carries_every_config(installed_python: Path, tmp_path: Path) -> None:
    probe = "import openpretrain, openpretrain.cli as c; print(openpretrain.__file__); print(c.CONFIG_PATH)"
    package_file, config_path = _run([str(installed_python), "-c", probe], tmp_path, _clean_env()).stdout.split()
    venv = installed_python.parents[1]
    assert Path(package_file).is_relative_to(venv) and Path(config_path).is_relative_to(venv)
    shipped = sorted(p.relative_to(config_path).as_posix() for p in Path(config_path).rglob("*.yaml"))
    in_repo = sorted(p.relative_to(REPO_ROOT / "conf").as_posix() for p in (REPO_ROOT / "conf").rglob("*.yaml"))
    assert shipped == in_repo


def test_data_prep_runs_from_another_directory(installed_python: Path, tmp_path: Path) -> None:
    env = _clean_env()
    job = _run([str(installed_python), "-m", "data_prep", "--cfg", "job", "out_dir=x", "pipeline=web"], tmp_path, env)
    assert "out_dir: x" in job.stdout and "name: web" in job.stdout
    bad = subprocess.run([str(installed_python), "-m", "data_prep", "pipeline=webb"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such option in conf/pipeline/; choose one of: code, minimal," in bad.stderr \
        and "(did you mean 'web'?)" in bad.stderr, bad.stderr
    _run([str(installed_python), "-m", "data_prep", "out_dir=data", *PREP_OVERRIDES, "max_docs=60"], tmp_path, env)
    assert (tmp_path / "data" / "manifest.json").is_file()


def test_installed_wheel_carries_the_word_lists_with_their_licence(installed_python: Path, tmp_path: Path) -> None:
    probe = ("from importlib import resources; from data_prep.stages.filters.badwords import available_languages, "
             "load_terms; d = resources.files('data_prep.stages.filters') / 'ldnoobw'; "
             "print(len(available_languages()), len(load_terms('zh', [])), "
             "(d / 'LICENSE').is_file() and (d / 'ATTRIBUTION.md').is_file())")
    out = _run([str(installed_python), "-c", probe], tmp_path, _clean_env()).stdout.split()
    assert int(out[0]) >= 27 and int(out[1]) > 300 and out[2] == "True"
