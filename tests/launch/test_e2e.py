"""Launch for real on one machine: two "nodes" rendezvous and train (CPU, gloo), preemption and requeue.

Slurm is the fake of tests/launch/fake_slurm.py: sbatch runs the rendered script as a 2-node allocation
on localhost, srun starts one torchrun per "node", scontrol records the requeue and the job runs again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_module
from tests.jsonl import complete_records
from tests.launch import fake_slurm as fake

pytestmark = pytest.mark.integration

MICRO = 2
TINY = ["model=tiny", f"micro_batch_size={MICRO}", "logger.mode=offline", "log_every=1", "eval_every=1000",
        "eval_batches=1", "checkpoint_every=1000"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return complete_records(path)


def _steps(records: list[dict]) -> list[int]:
    return [r["step"] for r in records if "loss" in r and "event" not in r]


def _wait_for_step(run_dir: Path, step: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(s >= step for s in _steps(_metrics(run_dir))):
        assert time.monotonic() < deadline, f"training did not reach step {step} in {timeout}s"
        time.sleep(0.1)


def _submit_and_signal(tmp_path: Path, prepared_dir: Path, max_steps: int, signum: int) -> tuple[Path, str]:
    """Submit a 2-node job to the fake Slurm, signal its batch shell at step 2, wait until it is done."""
    state, run_dir = tmp_path / "slurm", tmp_path / "run"
    fake.install(tmp_path / "bin", state)
    job_id = run_module(
        "launch", "cluster=slurm", "cluster.nodes=2", "cluster.gpus_per_node=0", "cluster.cpus_per_task=1",
        f"launch.rdzv_port={_free_port()}", "--", f"data.path={prepared_dir}", f"run_dir={run_dir}",
        f"max_steps={max_steps}", *TINY, env=fake.environment(tmp_path / "bin", state)).stdout.strip()
    batch_pid = None
    try:
        _wait_for_step(run_dir, 2, timeout=120)
        batch_pid = int((state / "jobs" / job_id / "pid").read_text())
        os.kill(batch_pid, signum)
        assert fake.wait_done(state, job_id, timeout=180) == 0
    finally:
        if not (state / "jobs" / job_id / "done").exists() and batch_pid:
            os.kill(batch_pid, signal.SIGKILL)
    return state, job_id


def test_slurm_two_nodes_preempted_requeued_and_resumed(tmp_path: Path, prepared_dir: Path) -> None:
    run_dir, max_steps = tmp_path / "run", 30
    # USR1 to the batch shell is what Slurm's --signal=B:USR1@... does before the time limit
    state, job_id = _submit_and_signal(tmp_path, prepared_dir, max_steps, signal.SIGUSR1)

    tools = [(c["tool"], c["args"]) for c in fake.calls(state)]
    assert tools[0] == ("sbatch", ["--parsable", str(run_dir / "launch" / "train.sbatch")])
    assert [args for tool, args in tools if tool == "scontrol" and args[0] == "requeue"] == [["requeue", job_id]]
    assert [args[0] for tool, args in tools if tool == "srun"] == ["--nodes=2", "--nodes=2"]  # two allocations

    records = _metrics(run_dir)
    [preempted] = [r for r in records if r.get("event") == "preempted"]
    [resumed] = [r for r in records if r.get("event") == "resume"]
    stop = preempted["step"]
    assert 2 <= stop < max_steps
    assert resumed["step"] == stop and resumed["world_size"] == 2 and resumed["checkpoint"].endswith(f"step_{stop}")
    steps = _steps(records)
    assert steps == list(range(1, max_steps + 1)), "each step trained exactly once across the two allocations"
    last = [r for r in records if r.get("step") == max_steps and "data_position" in r][-1]
    assert last["data_position"] == max_steps * MICRO * 2  # two ranks (one per node), nothing replayed
    assert (run_dir / "checkpoints" / f"step_{stop}").is_dir()
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == [f"job{job_id}-node0", f"job{job_id}-node1"]
    log = (run_dir / "launch" / f"slurm-{job_id}.out").read_text()
    assert "requeueing job" in log and "(restart 1)" in log


def test_bare_torchrun_on_two_nodes(tmp_path: Path, prepared_dir: Path) -> None:
    """The README's multi-node recipe without Slurm: the same command on each node, its own node rank."""
    run_dir, endpoint = tmp_path / "run", f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "launch", "launch.nnodes=2", f"launch.node_rank={rank}",
         f"launch.rdzv_endpoint={endpoint}", "launch.tee=0", "--", f"data.path={prepared_dir}",
         f"run_dir={run_dir}", "max_steps=3", *TINY],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outputs = [proc.communicate(timeout=180)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    last = _metrics(run_dir)[-1]
    assert last["step"] == 3 and last["data_position"] == 3 * MICRO * 2


def test_data_prep_job_chain_on_slurm(tmp_path: Path) -> None:
    """With whole-run dedup: filter array -> dedup bucket array -> union -> pack array -> merge, afterok."""
    state, out = tmp_path / "slurm", tmp_path / "data"
    fake.install(tmp_path / "bin", state)
    ids = run_module("launch", "job=prep", "cluster=slurm", "--", f"out_dir={out}", "num_tasks=2", "max_docs=80",
                     "seq_len=64", "tokenizer.vocab_size=300", "samples_per_shard=64", "progress=false",
                     "report=false", "pipeline.dedup.exact=true", "pipeline.dedup.buckets=2",
                     env=fake.environment(tmp_path / "bin", state)).stdout.split()
    assert len(ids) == 5
    assert fake.wait_done(state, ids[-1], timeout=180) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"] and (out / "tokenizer.json").exists()
    for stage, job_id in zip(("filter", "dedup_bucket", "pack"), (ids[0], ids[1], ids[3])):
        for task in (0, 1):
            assert (out / "launch" / f"{stage}-{job_id}_{task}.out").exists()

def test_slurm_sigterm_saves_and_stops_without_requeue(tmp_path: Path, prepared_dir: Path) -> None:
    """scancel / preemption: SIGTERM is forwarded, training saves and exits 0; Slurm (not we) requeues."""
    state, job_id = _submit_and_signal(tmp_path, prepared_dir, 200, signal.SIGTERM)
    records = _metrics(tmp_path / "run")
    [preempted] = [r for r in records if r.get("event") == "preempted"]
    assert (tmp_path / "run" / "checkpoints" / f"step_{preempted['step']}" ).is_dir()
    assert preempted["step"] < 200
    assert not [c for c in fake.calls(state) if c["tool"] == "scontrol" and c["args"][0] == "requeue"]
