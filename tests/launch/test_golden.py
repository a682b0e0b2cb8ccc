"""Golden files: the exact dry-run output (commands, sbatch scripts) for a few representative configs.

After an intended change to the rendering, regenerate with
    UPDATE_GOLDEN=1 python -m pytest tests/launch/test_golden.py
and review the diff of tests/launch/golden/ like code. The absolute path of the Python running launch
(the default torchrun and Slurm interpreter) is written as $PYTHON, so the files hold on every machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_module

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
FIXED = ["dry_run=true", "check_paths=false", "workdir=/golden/work"]
TRAIN = ["--", "data.path=/golden/data", "run_dir=/golden/run", "max_steps=1000", "model=llama_125m"]

CASES = {
    "local_single_node": ["launch.omp_num_threads=4", *TRAIN],
    "local_multi_node": ["launch.nnodes=2", "launch.node_rank=1", "launch.rdzv_endpoint=node0:29500",
                         "launch.nproc_per_node=8", "launch.omp_num_threads=8", *TRAIN],
    "slurm_full": [
        "cluster=slurm", "cluster.nodes=4", "cluster.gpus_per_node=8", "cluster.cpus_per_task=96",
        "cluster.partition=gpu", "cluster.account=proj", "cluster.qos=high", "cluster.time=2-00:00:00",
        "cluster.constraint=h100", "cluster.mem=0", "cluster.mail_user=me@example.org",
        "cluster.mail_type=[END,FAIL]", "cluster.signal_seconds=600",
        "cluster.setup=[module load cuda/12.4,'source /golden/venv/bin/activate']",
        "cluster.extra_sbatch=['--reservation=big-run','#SBATCH --gpu-bind=closest']", "+launch.env.NCCL_IB_HCA=mlx5",
        *TRAIN, "deepspeed=zero3", "logger.name=golden run"],
    "slurm_gres_no_requeue": [
        "cluster=slurm", "cluster.nodes=2", "cluster.gpus_per_node=4", "cluster.gpu_directive=gres",
        "cluster.requeue=false", "cluster.exclusive=false", "cluster.error=/golden/logs/%j.err",
        "cluster.time=90", "launch.tee=0", *TRAIN],
    "slurm_example_site": ["cluster=example_site", "cluster.partition=gpu-h100", "cluster.account=proj", *TRAIN],
    "slurm_prep_array": [
        "job=prep", "cluster=slurm", "cluster.cpus_per_task=16", "prep.max_parallel=2", "--",
        "out_dir=/golden/data", "num_tasks=4", "source=local", "source.paths=[/corpus/*.jsonl.gz]"],
    "slurm_prep_dedup": [  # whole-run dedup: filter array -> dedup bucket array -> union -> pack array -> merge
        "job=prep", "cluster=slurm", "--", "out_dir=/golden/data", "num_tasks=8", "source=fineweb_edu",
        "pipeline.dedup.exact=true", "pipeline.dedup.near=true"],
    "slurm_loop": [  # the self-feedback loop: one job per step of the round, afterok; decide submits the next round
        "job=loop", "cluster=slurm", "cluster.nodes=2", "cluster.partition=gpu",
        "cluster.setup=['source /golden/venv/bin/activate']", "loop.dir=/golden/loop", "loop.real_data=/golden/real",
        "loop.rounds=3", "--", "model=llama_125m"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dry_run_matches_golden(name: str) -> None:
    args = CASES[name]
    cut = args.index("--")
    output = run_module("launch", *args[:cut], *FIXED, *args[cut:]).stdout.replace(sys.executable, "$PYTHON")
    golden = GOLDEN_DIR / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(output)
    assert golden.exists(), f"no golden file {golden}; create it with UPDATE_GOLDEN=1"
    assert output == golden.read_text(), f"{name}: rendering changed; diff against {golden} (UPDATE_GOLDEN=1 to accept)"


def test_every_golden_file_has_a_case() -> None:
    """A stale golden file (case renamed or removed) would otherwise linger unchecked."""
    assert {p.stem for p in Path(GOLDEN_DIR).glob("*.txt")} <= set(CASES)


def _scripts(output: str) -> dict[str, str]:
    """The files of a Slurm dry run, split at its ``# ---- path ----`` headers (the last is the submit part)."""
    parts, name = {}, None
    for line in output.splitlines(keepends=True):
        if line.startswith("# ---- ") and line.rstrip().endswith(" ----"):
            name = line.strip()[len("# ---- "):-len(" ----")]
            parts[name] = ""
        elif name is not None:
            parts[name] += line
    return parts


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.startswith("slurm")))
def test_golden_scripts_are_valid_bash(name: str, tmp_path: Path) -> None:
    files = _scripts((GOLDEN_DIR / f"{name}.txt").read_text())
    for label, text in list(files.items()):
        if "<<'NODE'" in text:  # the per-node script srun runs with bash -c
            files[f"{label} (node part)"] = text.split("<<'NODE' || true\n", 1)[1].split("\nNODE\n", 1)[0]
    for label, text in files.items():
        path = tmp_path / "script.sh"
        path.write_text(text)
        check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, f"{name} {label}: {check.stderr}"
