"""Structured config for ``python -m launch``: types and validation only.

Every default lives in conf/launch.yaml and conf/cluster/ (MISSING here), so there is one place to read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from launch.loop.config import LoopConfig
from launch.loop.config import validate as validate_loop
from openpretrain.errors import require


class JobKind(str, Enum):
    train = "train"  # torchrun -m train on every node
    prep = "prep"  # python -m data_prep (a Slurm job array + merge job on a cluster)
    loop = "loop"  # the self-feedback loop (launch.loop.driver): prep + train + evaluate, round after round


class ClusterKind(str, Enum):
    local = "local"  # run torchrun here (one node, or this node of a multi-node run)
    slurm = "slurm"  # render an sbatch script and submit it


class GpuDirective(str, Enum):
    gpus_per_node = "gpus_per_node"  # #SBATCH --gpus-per-node=G
    gres = "gres"  # #SBATCH --gres=gpu:G (older sites)
    none = "none"  # the partition implies the GPUs


@dataclass
class TorchrunConfig:
    """How torchrun starts the training processes (config key ``launch``)."""

    nproc_per_node: int | None = MISSING  # None: 1 locally, cluster.gpus_per_node (or 1) on Slurm
    nnodes: int = MISSING  # local only; on Slurm the allocation decides (cluster.nodes)
    node_rank: int = MISSING  # local only
    rdzv_endpoint: str | None = MISSING  # host:port of node 0; None = --standalone (single node)
    rdzv_id: str = MISSING  # must match on all nodes of one run (Slurm uses the job id)
    rdzv_port: int = MISSING  # Slurm / slurm_env: c10d rendezvous port on the first node
    slurm_env: bool = MISSING  # local: take nnodes, node rank and rendezvous host from the Slurm allocation
    max_restarts: int = MISSING  # torchrun restarts of the whole worker group after a failure
    log_dir: str | None = MISSING  # per-rank stdout/stderr files; None = <run_dir>/logs
    redirects: int = MISSING  # torchrun --redirects: 0 none, 1 stdout, 2 stderr, 3 both into the log files
    tee: int = MISSING  # torchrun --tee: also copy those streams to the console
    omp_num_threads: int | None = MISSING  # None = CPUs available to the node / processes per node
    torchrun: str | None = MISSING  # the torchrun executable; None = python -m torch.distributed.run
    env: dict[str, str] = MISSING  # exported before torchrun starts


@dataclass
class ClusterConfig:
    name: str = MISSING
    kind: ClusterKind = MISSING
    # --- Slurm only below ---
    nodes: int = MISSING
    gpus_per_node: int = MISSING
    gpu_directive: GpuDirective = MISSING
    cpus_per_task: int | None = MISSING  # one task per node, so: CPUs per node for torchrun and its workers
    mem: str | None = MISSING  # e.g. 0 (all memory of the node) or 480G
    partition: str | None = MISSING
    require_partition: bool = MISSING  # site files set this when the cluster has no default partition
    account: str | None = MISSING
    qos: str | None = MISSING
    time: str = MISSING  # Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
    constraint: str | None = MISSING
    exclusive: bool = MISSING
    mail_user: str | None = MISSING
    mail_type: list[str] = MISSING  # e.g. [END,FAIL]
    job_name: str = MISSING
    output: str | None = MISSING  # None = <run_dir>/launch/slurm-%j.out (prep: <out_dir>/launch/...)
    error: str | None = MISSING  # None = stderr goes into the output file
    requeue: bool = MISSING  # after the USR1 checkpoint, requeue so the next allocation resumes
    signal_seconds: int = MISSING  # USR1 (save a checkpoint) this many seconds before the time limit
    setup: list[str] = MISSING  # shell lines run first: module load, venv, ...
    extra_sbatch: list[str] = MISSING  # more #SBATCH options, e.g. --reservation=x
    python: str | None = MISSING  # the interpreter on the nodes; None = the one running launch (absolute)
    sbatch: str = MISSING  # the submit command


@dataclass
class PrepLaunchConfig:
    # The array size is data_prep's own num_tasks (given after --); index i runs task_id=i.
    max_parallel: int | None = MISSING  # Slurm: at most this many array tasks at once (--array=...%N)


@dataclass
class LaunchConfig:
    job: JobKind = MISSING
    dry_run: bool = MISSING  # print the command (local) or the script + sbatch command (Slurm) only
    overrides: list[str] = MISSING  # passed through to train / data_prep (after --)
    workdir: str | None = MISSING  # where the job runs; None = the current directory
    check_paths: bool = MISSING  # fail early when data.path has no manifest.json
    launch: TorchrunConfig = MISSING
    cluster: ClusterConfig = MISSING
    prep: PrepLaunchConfig = MISSING
    loop: LoopConfig = MISSING  # job=loop only



MAIL_TYPES = {"NONE", "BEGIN", "END", "FAIL", "REQUEUE", "ALL", "INVALID_DEPEND", "STAGE_OUT",
              "TIME_LIMIT", "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50", "ARRAY_TASKS"}
_ENDPOINT = re.compile(r"^[^\s:]+:\d{1,5}$")
_SLURM_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_SIGNAL_MAX_SECONDS = 65535  # Slurm's upper bound for --signal=...@seconds


def slurm_time_seconds(value: str) -> int | None:
    """Seconds in a Slurm time limit, or None when the text is not one of Slurm's formats."""
    match = _SLURM_TIME.match(value.strip())
    if not match:
        return None
    days, first, second, third = match.groups()
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if third is not None:  # HH:MM:SS
        return (int(first) * 60 + int(second)) * 60 + int(third)
    if second is not None:  # MM:SS
        return int(first) * 60 + int(second)
    return int(first) * 60  # MM


def _validate_torchrun(t: TorchrunConfig) -> None:
    require(t.nnodes >= 1, "launch.nnodes", f"must be >= 1, got {t.nnodes}")
    require(0 <= t.node_rank < t.nnodes, "launch.node_rank",
            f"must be in [0, launch.nnodes={t.nnodes}), got {t.node_rank}")
    if t.nproc_per_node is not None:
        require(t.nproc_per_node >= 1, "launch.nproc_per_node", f"must be >= 1, got {t.nproc_per_node}")
    if t.rdzv_endpoint is not None:
        require(bool(_ENDPOINT.match(t.rdzv_endpoint)), "launch.rdzv_endpoint",
                f"must look like host:port, got {t.rdzv_endpoint!r}")
    require(t.nnodes == 1 or t.rdzv_endpoint is not None, "launch.rdzv_endpoint",
            "must be set (host:port of node 0, the same on every node) when launch.nnodes > 1")
    require(bool(t.rdzv_id), "launch.rdzv_id", "must not be empty")
    require(t.max_restarts >= 0, "launch.max_restarts", f"must be >= 0, got {t.max_restarts}")
    for key in ("redirects", "tee"):
        value = getattr(t, key)
        require(value in (0, 1, 2, 3), f"launch.{key}", f"must be 0 (none), 1 (stdout), 2 (stderr) or 3 (both), got {value}")
    if t.omp_num_threads is not None:
        require(t.omp_num_threads >= 1, "launch.omp_num_threads", f"must be >= 1, got {t.omp_num_threads}")
    require(t.torchrun is None or bool(t.torchrun), "launch.torchrun",
            "must name the torchrun executable, or be null for python -m torch.distributed.run")
    require(1 <= t.rdzv_port <= 65535, "launch.rdzv_port", f"must be a TCP port, got {t.rdzv_port}")
    if t.slurm_env:
        require(t.nnodes == 1 and t.rdzv_endpoint is None, "launch.slurm_env",
                "takes nnodes and the rendezvous endpoint from Slurm; drop launch.nnodes / launch.rdzv_endpoint")


def _validate_slurm(c: ClusterConfig, t: TorchrunConfig) -> None:
    require(c.nodes >= 1, "cluster.nodes", f"must be >= 1, got {c.nodes}")
    require(c.gpus_per_node >= 0, "cluster.gpus_per_node", f"must be >= 0, got {c.gpus_per_node}")
    if c.cpus_per_task is not None:
        require(c.cpus_per_task >= 1, "cluster.cpus_per_task", f"must be >= 1, got {c.cpus_per_task}")
    if c.require_partition:
        require(bool(c.partition), "cluster.partition",
                f"cluster '{c.name}' requires a partition: add cluster.partition=NAME")
    limit = slurm_time_seconds(c.time)
    require(limit is not None and limit > 0, "cluster.time",
            f"must be a Slurm time limit (MM, HH:MM:SS, D-HH:MM:SS, ...), got {c.time!r}")
    require(0 < c.signal_seconds <= _SIGNAL_MAX_SECONDS, "cluster.signal_seconds",
            f"must be in [1, {_SIGNAL_MAX_SECONDS}], got {c.signal_seconds}")
    require(c.signal_seconds < limit, "cluster.signal_seconds",
            f"{c.signal_seconds}s leaves no time to train within cluster.time={c.time}")
    if c.mail_type:
        unknown = {kind.strip().upper() for kind in c.mail_type} - MAIL_TYPES
        require(not unknown, "cluster.mail_type",
                f"unknown {sorted(unknown)}; allowed: {', '.join(sorted(MAIL_TYPES))}")
    # On Slurm the allocation fixes the node count, ranks and rendezvous host; a local value would be ignored.
    require(t.nnodes == 1, "launch.nnodes", "is for cluster=local; on Slurm set cluster.nodes instead")
    require(t.node_rank == 0, "launch.node_rank", "is for cluster=local; Slurm assigns node ranks")
    require(t.rdzv_endpoint is None, "launch.rdzv_endpoint",
            "is for cluster=local; on Slurm the first node of the allocation hosts the rendezvous")


def validate(cfg: LaunchConfig) -> None:
    """Range and consistency checks OmegaConf's types cannot express."""
    if cfg.cluster.kind == ClusterKind.slurm:
        _validate_slurm(cfg.cluster, cfg.launch)
    else:
        require(cfg.cluster.nodes == 1, "cluster.nodes",
                "is for cluster=slurm; for several nodes without Slurm set launch.nnodes and launch.node_rank")
    _validate_torchrun(cfg.launch)
    if cfg.prep.max_parallel is not None:
        require(cfg.prep.max_parallel >= 1, "prep.max_parallel", f"must be >= 1, got {cfg.prep.max_parallel}")
    if cfg.job == JobKind.loop:
        validate_loop(cfg.loop, cfg.check_paths)


def register() -> None:
    ConfigStore.instance().store(name="launch_schema", node=LaunchConfig)
