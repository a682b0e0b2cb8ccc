"""The loop on (fake) Slurm: one job per step chained with afterok; round 0's decide job submits round 1.

Slurm is tests/launch/fake_slurm.py: sbatch runs each rendered script on this machine once its afterok
dependency finished, srun starts the train step's per-node task, torchrun takes the rendezvous from it.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.launch import fake_slurm as fake
from tests.loop.loop_helpers import loop_argv, loop_env, prepare_real, run_loop

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_loop_runs_as_a_slurm_job_chain_that_submits_its_next_round(tmp_path):
    real = prepare_real(tmp_path / "real")
    state, loop_dir = tmp_path / "slurm", tmp_path / "loop"
    fake.install(tmp_path / "bin", state)
    env = {**loop_env(), **fake.environment(tmp_path / "bin", state)}
    argv = loop_argv(loop_dir, real, "cluster=slurm", "cluster.nodes=1", "cluster.gpus_per_node=0",
                     "cluster.cpus_per_task=1", f"launch.rdzv_port={_free_port()}", docs=16, steps=10)
    proc = run_loop(argv, env=env)
    first_round = proc.stdout.split()
    assert len(first_round) == 4  # train, evaluate, memorize, decide of round 0
    deadline = time.monotonic() + 1200
    while not (loop_dir / "round_1" / "decide.done").exists():
        assert time.monotonic() < deadline, "round 1 did not finish on the fake Slurm"
        time.sleep(1)
    book = json.loads((loop_dir / "loop.json").read_text())
    assert [r["round"] for r in book["rounds"]] == [0, 1] and book["stopped"] is None
    assert book["rounds"][1]["checkpoint"].endswith("run/checkpoints/step_20")
    calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
    submitted = [c for c in calls if c.get("tool") == "sbatch"]
    scripts = [c["args"][-1].rsplit("/", 1)[-1] for c in submitted]
    assert scripts == ["r0-train.sbatch", "r0-evaluate.sbatch", "r0-memorize.sbatch", "r0-decide.sbatch",
                       "r1-synthesize.sbatch", "r1-train.sbatch", "r1-evaluate.sbatch", "r1-memorize.sbatch",
                       "r1-decide.sbatch"]
    for call in submitted[1:4] + submitted[5:]:
        assert any(arg.startswith("--dependency=afterok:") for arg in call["args"])
    assert not any(arg.startswith("--dependency") for arg in submitted[4]["args"])  # the new round's head
