"""``python -m launch`` end to end without training: bad input, submission, sweeps, exit codes.

Slurm is the fake of tests/launch/fake_slurm.py in hold mode (submissions are recorded, not run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_module
from tests.launch import fake_slurm as fake

pytestmark = pytest.mark.slow  # a subprocess per test (fake Slurm); the fast tier has the units

TRAIN = ["data.path=/nowhere", "run_dir={run}"]


@pytest.fixture()
def slurm(tmp_path: Path) -> dict:
    """Fake sbatch/srun/scontrol on PATH (hold mode) and a run directory."""
    state = tmp_path / "slurm"
    fake.install(tmp_path / "bin", state)
    env = fake.environment(tmp_path / "bin", state, FAKE_SBATCH_HOLD="1")
    return {"env": env, "state": state, "run": tmp_path / "run", "tmp": tmp_path}


def _launch(slurm: dict, *args: str, check: bool = True):
    args = tuple(a.format(run=slurm["run"], tmp=slurm["tmp"]) for a in args)
    return run_module("launch", *args, env=slurm["env"], check=check)


BAD_INPUT = {
    "zero nodes": (["cluster=slurm", "cluster.nodes=0", "check_paths=false"], "cluster.nodes", 2),
    "unknown cluster": (["cluster=moon", "check_paths=false"],
                        "cluster=moon: no such option in conf/cluster/; choose one of: example_site, local, slurm", 2),
    "partition required": (["cluster=example_site", "check_paths=false"], "cluster.partition", 2),
    "bad time": (["cluster=slurm", "cluster.time=soon", "check_paths=false"], "cluster.time", 2),
    "signal after time limit": (["cluster=slurm", "cluster.time=5", "cluster.signal_seconds=600",
                                 "check_paths=false"], "cluster.signal_seconds", 2),
    "launch.nnodes on slurm": (["cluster=slurm", "launch.nnodes=2", "check_paths=false"], "cluster.nodes instead", 2),
    "missing data": (["cluster=slurm"], "no manifest.json", 2),
    "unknown launch key": (["cluster=slurm", "cluster.gpus=2", "check_paths=false"],
                           "cluster.gpus: unknown key (did you mean 'cluster.gpus_per_node'?)", 2),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_submitting(slurm: dict, case: str) -> None:
    args, expected, status = BAD_INPUT[case]
    proc = _launch(slurm, *args, "--", *TRAIN, check=False)
    assert proc.returncode == status, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert fake.calls(slurm["state"]) == [], "nothing may reach sbatch"


@pytest.mark.parametrize("train_args, expected", [
    (["data.path=/d", "run_dir={run}", "optim.lrr=1"], "optim.lrr"),  # train's own schema rejects the typo
    (["data.path=/d"], "'run_dir' must be set"),
    (["data.path=/d", "run_dir={run}", "max_steps=-1"], "max_steps"),  # train's validate() runs too
    (["data.path=/d", "run_dir={run}", "optim.lr=1e-3,3e-3"], "add -m"),  # a sweep needs -m
])
def test_bad_train_overrides_fail_in_one_line(slurm: dict, train_args: list[str], expected: str) -> None:
    proc = _launch(slurm, "cluster=slurm", "check_paths=false", "--", *train_args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert fake.calls(slurm["state"]) == []


def test_sweep_is_checked_completely_before_the_first_submission(slurm: dict) -> None:
    proc = _launch(slurm, "-m", "cluster=slurm", "check_paths=false", "hydra.sweep.dir={tmp}/sweep", "--",
                   "data.path=/d", "run_dir={run}", "model=tiny,no_such_model", check=False)
    assert proc.returncode == 2 and "no_such_model" in proc.stderr
    assert fake.calls(slurm["state"]) == []


def test_submit_saves_script_and_configs_and_prints_job_id(slurm: dict, prepared_dir: Path) -> None:
    train = [f"data.path={prepared_dir}", "run_dir={run}", "logger.name=\"it's a test\""]
    dry = _launch(slurm, "cluster=slurm", "cluster.nodes=2", "dry_run=true", "--", *train).stdout
    proc = _launch(slurm, "cluster=slurm", "cluster.nodes=2", "--", *train)
    assert proc.stdout.strip() == "1001"
    launch_dir = slurm["run"] / "launch"
    script = launch_dir / "train.sbatch"
    assert [c["args"] for c in fake.calls(slurm["state"])] == [["--parsable", str(script)]]
    assert script.read_text() in dry  # the dry run printed exactly what was submitted
    saved = yaml.safe_load((launch_dir / "launch.yaml").read_text())
    assert saved["cluster"]["nodes"] == 2 and saved["overrides"][-1] == "logger.name=\"it's a test\""
    assert yaml.safe_load((launch_dir / "train.yaml").read_text())["logger"]["name"] == "it's a test"


def test_prep_submits_array_then_dependent_merge(slurm: dict) -> None:
    out = slurm["tmp"] / "data"
    proc = _launch(slurm, "job=prep", "cluster=slurm", "--", f"out_dir={out}", "num_tasks=3")
    assert proc.stdout.split() == ["1001", "1002"]
    sbatch = [c["args"] for c in fake.calls(slurm["state"])]
    assert sbatch == [["--parsable", str(out / "launch" / "prep.sbatch")],
                      ["--parsable", "--dependency=afterok:1001", str(out / "launch" / "merge.sbatch")]]
    prep = (out / "launch" / "prep.sbatch").read_text()
    assert "#SBATCH --array=0-2\n" in prep and 'num_tasks=3 task_id="$SLURM_ARRAY_TASK_ID"' in prep
    assert "num_tasks=3 step=merge" in (out / "launch" / "merge.sbatch").read_text()


def test_prep_with_whole_run_dedup_is_a_five_job_chain(slurm: dict) -> None:
    out = slurm["tmp"] / "data"
    proc = _launch(slurm, "job=prep", "cluster=slurm", "--", f"out_dir={out}", "num_tasks=2",
                   "pipeline.dedup.exact=true", "pipeline.dedup.buckets=3")
    assert proc.stdout.split() == ["1001", "1002", "1003", "1004", "1005"]
    sbatch = [c["args"] for c in fake.calls(slurm["state"])]
    assert [Path(args[-1]).name for args in sbatch] == ["filter.sbatch", "dedup_bucket.sbatch", "dedup_union.sbatch",
                                                       "pack.sbatch", "merge.sbatch"]
    assert [args[1:-1] for args in sbatch] == [[], ["--dependency=afterok:1001"], ["--dependency=afterok:1002"],
                                              ["--dependency=afterok:1003"], ["--dependency=afterok:1004"]]
    buckets = (out / "launch" / "dedup_bucket.sbatch").read_text()
    assert "#SBATCH --array=0-2\n" in buckets and 'step=dedup_bucket bucket_id="$SLURM_ARRAY_TASK_ID"' in buckets
    assert "#SBATCH --array=0-1\n" in (out / "launch" / "filter.sbatch").read_text()


def test_prep_step_and_task_id_belong_to_launch(slurm: dict) -> None:
    proc = _launch(slurm, "job=prep", "cluster=slurm", "--", "out_dir={tmp}/data", "num_tasks=2", "task_id=1",
                   check=False)
    assert proc.returncode == 2 and "task_id=... is set by launch" in proc.stderr
    assert fake.calls(slurm["state"]) == []


def test_rejected_submission_is_one_clear_line(slurm: dict) -> None:
    env = {**slurm["env"], "FAKE_SBATCH_FAIL": "Invalid account or account/partition combination"}
    proc = run_module("launch", "cluster=slurm", "check_paths=false", "--", "data.path=/d",
                      f"run_dir={slurm['run']}", env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: sbatch failed (exit 1): sbatch: error: Batch job submission failed: "
                                   "Invalid account or account/partition combination")


def test_local_sweep_gives_every_job_its_own_run_dir(slurm: dict) -> None:
    proc = _launch(slurm, "-m", "dry_run=true", "check_paths=false", "hydra.sweep.dir={tmp}/sweep", "--",
                   "data.path=/d", "run_dir={run}", "optim.lr=1e-3,3e-3", "logger.name=lr${{optim.lr}}")
    commands = [line for line in proc.stdout.splitlines() if "torch.distributed.run" in line]
    assert len(commands) == 2
    for number, lr in ((0, "0.001"), (1, "0.003")):
        assert f"run_dir={slurm['run']}/{number}" in commands[number]
        assert f"optim.lr={lr}" in commands[number]
        assert "'logger.name=lr${optim.lr}'" in commands[number]  # interpolation reaches train untouched


def test_slurm_sweep_submits_one_job_per_combination(slurm: dict) -> None:
    _launch(slurm, "-m", "cluster=slurm", "cluster.nodes=1,2", "check_paths=false",
            "hydra.sweep.dir={tmp}/sweep", "--", "data.path=/d", "run_dir={run}", "seed=1,2")
    submitted = [c["args"][-1] for c in fake.calls(slurm["state"])]
    assert submitted == [str(slurm["run"] / str(n) / "launch" / "train.sbatch") for n in range(4)]
    nodes_and_seed = [(yaml.safe_load((Path(p).parent / "launch.yaml").read_text())["cluster"]["nodes"],
                       yaml.safe_load((Path(p).parent / "train.yaml").read_text())["seed"]) for p in submitted]
    assert sorted(nodes_and_seed) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_submitit_slurm_sweep_on_two_nodes(slurm: dict) -> None:
    """hydra/launcher=submitit_slurm: each job's two node tasks run launch, which reads its node rank from Slurm."""
    sweep = slurm["tmp"] / "sweep"
    env = {**slurm["env"], "FAKE_SBATCH_HOLD": ""}  # submitit waits for its jobs: let the fake run them
    run_module("launch", "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.nodes=2",
               "hydra.launcher.tasks_per_node=1", "hydra.launcher.gpus_per_node=0", f"hydra.sweep.dir={sweep}",
               "launch.slurm_env=true", "dry_run=true", "check_paths=false", "--", "data.path=/d",
               f"run_dir={slurm['run']}", "seed=1,2", env=env, timeout=120)
    for number, seed in ((0, 1), (1, 2)):
        for node in (0, 1):
            [log] = sweep.glob(f".submitit/*_{number}/*_{number}_{node}_log.out")
            assert (f"--nnodes=2 --node-rank={node} --rdzv-backend=c10d --rdzv-endpoint=127.0.0.1:29500"
                    in log.read_text())
            assert f"-m train data.path=/d seed={seed} run_dir={slurm['run']}/{number}" in log.read_text()


def test_slurm_env_takes_the_rendezvous_from_the_allocation(slurm: dict) -> None:
    env = {**slurm["env"], "SLURM_JOB_ID": "77", "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1",
           "SLURM_JOB_NODELIST": "gpu-a,gpu-b"}
    proc = run_module("launch", "launch.slurm_env=true", "dry_run=true", "check_paths=false", "--",
                      "data.path=/d", "run_dir=/r", env=env)
    assert ("--nnodes=2 --node-rank=1 --rdzv-backend=c10d --rdzv-endpoint=gpu-a:29500 --rdzv-id=77"
            in proc.stdout)


def test_local_run_returns_the_exit_status_of_torchrun(slurm: dict) -> None:
    proc = _launch(slurm, f"launch.torchrun={shutil.which('false')}", "check_paths=false", "--", "data.path=/d", "run_dir={run}",
                   check=False)
    assert proc.returncode == 1  # /bin/false's status, passed through
    missing = _launch(slurm, "launch.torchrun=no-such-torchrun", "check_paths=false", "--", "data.path=/d",
                      "run_dir={run}", check=False)
    assert missing.returncode == 2 and "'no-such-torchrun' not found on PATH" in missing.stderr



def test_local_run_needs_no_torchrun_on_path(tmp_path: Path) -> None:
    """A venv used without activation: torchrun is this Python's torch.distributed.run, not a PATH lookup."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "DS_ACCELERATOR", "OMP_NUM_THREADS")})
    proc = subprocess.run([sys.executable, "-m", "launch", "check_paths=false", "launch.tee=0", "--",
                           "data.path=/nowhere", f"run_dir={tmp_path / 'run'}", "max_steps=1"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert "not found on PATH" not in proc.stderr
    # The training process started and refused the data itself (train's own one-line error, exit 2).
    assert proc.returncode != 0 and "exitcode  : 2" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    errors = [p.read_text() for p in (tmp_path / "run" / "logs").rglob("stderr.log")]
    assert any("error: data directory does not exist: /nowhere" in text for text in errors)
