"""Launching real training runs from tests: torchrun on CPU, reading metrics.jsonl, signalling ranks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import REPO_ROOT
from tests.jsonl import complete_records

# A tiny run: seq 64 from the prepared data, 4 sequences per rank. W&B off: starting its offline service
# costs rank 0 seconds per launch; the tests that assert on W&B pass logger.mode=offline (the last value wins).
TINY = ["logger.mode=disabled", "micro_batch_size=4", "eval_batches=2", "data.num_workers=1"]
WANDB_OFFLINE = "logger.mode=offline"


def train_cmd(nproc: int, *overrides: str) -> list[str]:
    """``python -m train``; with ``--fault...`` arguments, the same run with faults injected (faulty_train)."""
    module = "tests.train.faulty_train" if any(o.startswith("--") for o in overrides) else "train"
    if nproc == 1:
        return [sys.executable, "-m", module, *TINY, *overrides]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", module, *TINY, *overrides]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}


def train(nproc: int, *overrides: str, expect_rc: int | None = 0, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(train_cmd(nproc, *overrides), cwd=REPO_ROOT, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    if expect_rc is not None and proc.returncode != expect_rc:
        raise AssertionError(f"train exited {proc.returncode} (expected {expect_rc}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def start(nproc: int, *overrides: str, log_path: Path) -> subprocess.Popen:
    """Launch in its own session (so the test can kill exactly this run's process group)."""
    log = open(log_path, "w")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(train_cmd(nproc, *overrides), cwd=REPO_ROOT, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def records(run_dir: Path) -> list[dict]:
    return complete_records(run_dir / "metrics.jsonl")


def last_per_step(run_dir: Path, key: str = "loss") -> dict[int, float]:
    """The last logged value of ``key`` per step (a resume logs the steps after its checkpoint again)."""
    out: dict[int, float] = {}
    for rec in records(run_dir):
        if "event" not in rec and rec.get(key) is not None:
            out[rec["step"]] = rec[key]
    return out


def events(run_dir: Path, name: str) -> list[dict]:
    return [r for r in records(run_dir) if r.get("event") == name]


def wait_for_step(proc: subprocess.Popen, run_dir: Path, step: int, after_line: int, timeout: float = 180,
                  log_path: Path | None = None) -> int:
    """Block until a step record >= ``step`` appears past line ``after_line``; returns that step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in records(run_dir)[after_line:]:
            if "event" not in rec and rec["step"] >= step:
                return rec["step"]
        if proc.poll() is not None:
            tail = log_path.read_text()[-4000:] if log_path else ""
            raise AssertionError(f"run ended (rc {proc.returncode}) before step {step}:\n{tail}")
        time.sleep(0.02)
    raise AssertionError(f"no step {step} within {timeout}s")


def worker_pids(proc: subprocess.Popen) -> dict[int, int]:
    """RANK -> pid of the training processes under a launched command (the command itself if no torchrun)."""
    out = {}
    for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
        try:
            rank = p.environ().get("RANK")
        except psutil.Error:
            continue
        if rank is not None and "train" in " ".join(p.cmdline()):
            out[int(rank)] = p.pid
    return out or {0: proc.pid}  # plain `python -m train` sets RANK inside the process


def kill_all(proc: subprocess.Popen) -> None:
    """SIGKILL a launched run: torchrun puts each worker in its own session, so kill them by pid."""
    try:
        workers = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        workers = []
    for p in [*workers, psutil.Process(proc.pid)] if proc.poll() is None else workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def sample_positions(run_dir: Path) -> dict[int, str]:
    """Global position -> sample id over every rank's data.log_sample_ids file (a replayed position keeps one id)."""
    out: dict[int, str] = {}
    for path in sorted((run_dir / "sample_ids").glob("rank*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            for pos, sid in zip(rec["positions"], rec["ids"]):
                assert out.get(pos, sid) == sid, f"position {pos} gave two different samples"
                out[pos] = sid
    return out
