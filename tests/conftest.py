"""Shared fixtures. Data is made here (the embedded corpus through our own data_prep), never downloaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests run offline and on CPU: make that explicit for every subprocess we start.
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Small enough to prep in seconds, big enough for a tiny model to learn something in 20 steps.
PREP_OVERRIDES = [
    "max_docs=400",
    "seq_len=64",
    "tokenizer.vocab_size=512",
    "samples_per_shard=64",
    "val_fraction=0.05",
    "progress=false",
]


def run_module(module: str, *overrides: str, cwd: Path = REPO_ROOT, env: dict | None = None,
               timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m module overrides...`` from the repo root; fail with its output on error."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


# test.sh runs two pytest-xdist workers (-n 2 --dist loadfile --no-loadscope-reorder): while one worker
# waits on a training subprocess (imports, rendezvous, polling) the other has the CPU. A module runs on one
# worker, so its module-scoped runs are made once; the costliest modules (measured with --durations: 45 s
# to 4 min each on 2 cores) are handed out first, so that no worker is left alone with one of them at the
# end while the other has nothing to do. (Not loadgroup: its xdist_group marks do not group under pytest 9.)
COSTLIEST_FIRST = (
    "tests/train/test_integration_resume.py",
    "tests/loop/test_loop_e2e.py",
    "tests/train/test_objective_runs.py",
    "tests/launch/test_real_slurm.py",
    "tests/loop/test_loop_slurm.py",
    "tests/train/test_hf_init_train.py",
    "tests/launch/test_e2e.py",
    "tests/train/test_integration_train.py",
)


def _schedule_rank(item: pytest.Item) -> int:
    """Costliest modules first, then the other slow modules, then the fast tier."""
    path = item.nodeid.split("::", 1)[0]
    if path in COSTLIEST_FIRST:
        return COSTLIEST_FIRST.index(path)
    return len(COSTLIEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every integration test is also slow: the fast tier (-m "not slow") never starts DeepSpeed ranks."""
    for item in items:
        if item.get_closest_marker("integration") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_schedule_rank)  # stable: the order within a rank is the collection order


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Contract-2 directory (manifest, tokenizer, train/val shards) from the embedded corpus."""
    out = tmp_path_factory.mktemp("prepared") / "stdlib"
    run_module("data_prep", f"out_dir={out}", *PREP_OVERRIDES)
    return out


@pytest.fixture(scope="session")
def objective_prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same corpus and settings, tokenizer with the FIM sentinels and the MLM mask token appended."""
    out = tmp_path_factory.mktemp("prepared_objectives") / "stdlib"
    run_module("data_prep", f"out_dir={out}", *PREP_OVERRIDES, "tokenizer.objective_tokens=[fim,mlm]")
    return out
