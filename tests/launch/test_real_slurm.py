"""Launch against a real Slurm 22.05 cluster (tests/launch/real_slurm.py: munged, slurmctld, slurmd n1 and n2).

What a user does on a cluster: a 2-node training job, USR1 before the time limit (save, requeue, resume),
scancel (save, no requeue), the data_prep job chain and a submitit sweep. Skipped, with the reason, where
Slurm is not installed (the fake-Slurm tests in test_e2e.py cover the scripts there).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_module
from tests.launch import real_slurm
from tests.wandb_offline import offline_runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MICRO = 2
TINY = ["model=tiny", f"micro_batch_size={MICRO}", "logger.mode=offline", "log_every=1", "eval_every=1000",
        "eval_batches=1", "checkpoint_every=1000"]
# The rendered script is the real one; only what this 2-CPU "cluster" lacks is set: no GPUs, no
# exclusive nodes, one process per node.
TWO_NODES = ["cluster=slurm", "cluster.nodes=2", "cluster.gpus_per_node=0", "cluster.gpu_directive=none",
             "cluster.exclusive=false", "cluster.cpus_per_task=1", "launch.nproc_per_node=1"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    reason = real_slurm.unavailable_reason()
    if reason:
        pytest.skip(f"no real Slurm here: {reason}")
    started = real_slurm.start(tmp_path_factory.mktemp("slurm-state"))
    try:
        yield started
    finally:
        started.stop()


def _env(cluster: real_slurm.Cluster) -> dict[str, str]:
    # the jobs inherit this environment (sbatch --export=ALL): this Python's torchrun and python first
    return {**cluster.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _steps(records: list[dict]) -> list[int]:
    return [r["step"] for r in records if "loss" in r and "event" not in r]


def _wait_for_step(cluster: real_slurm.Cluster, job_id: str, run_dir: Path, step: int, timeout: float) -> None:
    """Poll metrics.jsonl closely (the signal must land while training runs), the job state now and then."""
    deadline, polls = time.monotonic() + timeout, 0
    while not any(s >= step for s in _steps(_metrics(run_dir))):
        if polls % 20 == 0:
            state = cluster.job(job_id).get("JobState")
            assert state in ("PENDING", "RUNNING", "CONFIGURING"), f"job {job_id} is {state} before step {step}"
        assert time.monotonic() < deadline, f"training did not reach step {step} in {timeout}s"
        polls += 1
        time.sleep(0.05)


def _submit_training(cluster: real_slurm.Cluster, prepared_dir: Path, run_dir: Path, max_steps: int) -> str:
    proc = run_module("launch", *TWO_NODES, f"launch.rdzv_port={real_slurm.free_port()}", "--",
                      f"data.path={prepared_dir}", f"run_dir={run_dir}", f"max_steps={max_steps}", *TINY,
                      env=_env(cluster))
    return proc.stdout.strip()


def test_usr1_saves_requeues_and_resumes_on_two_nodes(cluster: real_slurm.Cluster, prepared_dir: Path,
                                                       tmp_path: Path) -> None:
    # enough steps that USR1 lands mid-run: an idle 2-core machine trains ~30 steps/s, a loaded one ~1
    run_dir, max_steps = tmp_path / "run", 48
    job_id = _submit_training(cluster, prepared_dir, run_dir, max_steps)
    _wait_for_step(cluster, job_id, run_dir, 2, timeout=300)
    # what --signal=B:USR1@N does before the time limit: USR1 to the batch shell only
    cluster.run("scancel", "--signal=USR1", "--batch", job_id)
    job = cluster.wait_job(job_id, ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), timeout=240)
    assert (job["JobState"], job["ExitCode"], job["Restarts"]) == ("COMPLETED", "0:0", "1"), job

    records = _metrics(run_dir)
    [preempted] = [r for r in records if r.get("event") == "preempted"]
    [resumed] = [r for r in records if r.get("event") == "resume"]
    stop = preempted["step"]
    assert 2 <= stop < max_steps
    assert resumed["step"] == stop and resumed["world_size"] == 2 and resumed["checkpoint"].endswith(f"step_{stop}")
    assert _steps(records) == list(range(1, max_steps + 1)), "each step trained exactly once across the two runs"
    last = [r for r in records if r.get("step") == max_steps and "data_position" in r][-1]
    assert last["data_position"] == max_steps * MICRO * 2  # two ranks (one per node), nothing replayed
    log = (run_dir / "launch" / f"slurm-{job_id}.out").read_text()
    assert "requeueing job" in log and "(restart 1)" in log and "on 2 node(s)" in log
    # one W&B run across both allocations: the same id, each part declaring the dataset and logging its checkpoints
    first, second = offline_runs(run_dir)
    assert first.id == second.id
    for part, steps in ((first, [stop]), (second, [max_steps])):
        assert [a.type for a in part.used_artifacts()] == ["dataset"]
        assert [json.loads(a.metadata)["step"] for a in part.logged_artifacts() if a.type == "model"] == steps
    print(f"requeue: preempted at step {stop}, resumed {resumed['time'] - preempted['time']:.1f}s later")


def test_scancel_saves_and_stops_without_requeue(cluster: real_slurm.Cluster, prepared_dir: Path,
                                                 tmp_path: Path) -> None:
    """scancel: Slurm sends TERM to every process of the job; training saves and stops, nobody requeues."""
    run_dir, max_steps = tmp_path / "run", 200
    job_id = _submit_training(cluster, prepared_dir, run_dir, max_steps)
    _wait_for_step(cluster, job_id, run_dir, 2, timeout=300)
    cluster.run("scancel", job_id)
    cluster.wait_gone(job_id, timeout=60)  # KillWait (30 s) would SIGKILL a job still saving
    job = cluster.job(job_id)
    assert (job["JobState"], job["Restarts"]) == ("CANCELLED", "0"), job
    [preempted] = [r for r in _metrics(run_dir) if r.get("event") == "preempted"]
    assert preempted["step"] < max_steps
    assert (run_dir / "checkpoints" / f"step_{preempted['step']}").is_dir()
    log = (run_dir / "launch" / f"slurm-{job_id}.out").read_text()
    assert "training processes exited with status 0" in log and "requeueing" not in log


def test_data_prep_job_chain(cluster: real_slurm.Cluster, tmp_path: Path) -> None:
    """Whole-run dedup: filter array -> dedup bucket array -> union -> pack array -> merge, each afterok."""
    out = tmp_path / "data"
    ids = run_module("launch", "job=prep", "cluster=slurm", "--", f"out_dir={out}", "num_tasks=2", "max_docs=80",
                     "seq_len=64", "tokenizer.vocab_size=300", "samples_per_shard=64", "progress=false",
                     "report=false", "pipeline.dedup.exact=true", "pipeline.dedup.buckets=3",
                     env=_env(cluster)).stdout.split()
    assert len(ids) == 5
    assert cluster.job(ids[-1])["Dependency"].startswith(f"afterok:{ids[-2]}")
    for job_id in ids:
        cluster.wait_gone(job_id, timeout=120)
    jobs = [cluster.jobs(job_id) for job_id in ids]
    assert [len(tasks) for tasks in jobs] == [2, 3, 1, 2, 1]  # the arrays ran one task (bucket) per index
    for tasks in jobs:
        assert {(t["JobState"], t["ExitCode"]) for t in tasks} == {("COMPLETED", "0:0")}, tasks
    for earlier, later in zip(jobs, jobs[1:]):  # afterok: each starts only after the one before ended
        assert min(t["StartTime"] for t in later) >= max(t["EndTime"] for t in earlier)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"] and (out / "tokenizer.json").exists()


def test_submitit_sweep_trains_one_job_per_combination(cluster: real_slurm.Cluster, prepared_dir: Path,
                                                      tmp_path: Path) -> None:
    """hydra/launcher=submitit_slurm: each combination is a Slurm job (an array task) that runs launch -> train.

    One node per job so both jobs run side by side within the CI budget; the 2-node rendezvous is what
    the sbatch tests above train through.
    """
    sweep, run_dir = tmp_path / "sweep", tmp_path / "run"
    run_module("launch", "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.tasks_per_node=1",
               "hydra.launcher.partition=debug", f"hydra.sweep.dir={sweep}", "launch.tee=0", "--",
               f"data.path={prepared_dir}", f"run_dir={run_dir}", "max_steps=2", "seed=1,2", *TINY,
               env=_env(cluster), timeout=300)
    [array_id] = {log.name.split("_")[0] for log in sweep.glob(".submitit/*/*_log.out")}
    cluster.wait_gone(array_id, timeout=60)  # submitit returns once the results are written, before the jobs end
    tasks = cluster.jobs(array_id)
    assert sorted((t["ArrayTaskId"], t["JobState"], t["ExitCode"]) for t in tasks) == [
        ("0", "COMPLETED", "0:0"), ("1", "COMPLETED", "0:0")]
    for number, seed in ((0, 1), (1, 2)):
        config = (run_dir / str(number) / "config.yaml").read_text()
        assert f"seed: {seed}" in config
        last = _metrics(run_dir / str(number))[-1]
        assert last["step"] == 2 and last["data_position"] == 2 * MICRO  # one rank
