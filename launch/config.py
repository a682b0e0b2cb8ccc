"""Structured config for ``python -m launch`` (defaults live in conf/launch.yaml and conf/cluster/)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from hydra.core.config_store import ConfigStore

from openpretrain.errors import require


class JobKind(str, Enum):
    train = "train"  # torchrun -m train on every node
    prep = "prep"  # python -m data_prep (a Slurm job array + merge job on a cluster)


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

    nproc_per_node: int | None = None  # None: 1 locally, cluster.gpus_per_node (or 1) on Slurm
    nnodes: int = 1  # local only; on Slurm the allocation decides (cluster.nodes)
    node_rank: int = 0  # local only
    rdzv_endpoint: str | None = None  # host:port of node 0; None = --standalone (single node)
    rdzv_id: str = "openpretrain"  # must match on all nodes of one run (Slurm uses the job id)
    rdzv_port: int = 29500  # Slurm / slurm_env: c10d rendezvous port on the first node
    slurm_env: bool = False  # local: take nnodes, node rank and rendezvous host from the Slurm allocation
    max_restarts: int = 0  # torchrun restarts of the whole worker group after a failure
    log_dir: str | None = None  # per-rank stdout/stderr files; None = <run_dir>/logs
    redirects: int = 3  # torchrun --redirects: 0 none, 1 stdout, 2 stderr, 3 both into the log files
    tee: int = 3  # torchrun --tee: also copy those streams to the console
    omp_num_threads: int | None = None  # None = CPUs available to the node / processes per node
    torchrun: str = "torchrun"  # the torchrun executable
    env: dict[str, str] = field(default_factory=dict)  # exported before torchrun starts


@dataclass
class ClusterConfig:
    name: str = "local"
    kind: ClusterKind = ClusterKind.local
    # --- Slurm only below ---
    nodes: int = 1
    gpus_per_node: int = 0
    gpu_directive: GpuDirective = GpuDirective.gpus_per_node
    cpus_per_task: int | None = None  # one task per node, so: CPUs per node for torchrun and its workers
    mem: str | None = None  # e.g. 0 (all memory of the node) or 480G
    partition: str | None = None
    require_partition: bool = False  # site files set this when the cluster has no default partition
    account: str | None = None
    qos: str | None = None
    time: str = "24:00:00"  # Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
    constraint: str | None = None
    exclusive: bool = True
    mail_user: str | None = None
    mail_type: list[str] = field(default_factory=list)  # e.g. [END,FAIL]
    job_name: str = "openpretrain"
    output: str | None = None  # None = <run_dir>/launch/slurm-%j.out (prep: <out_dir>/launch/...)
    error: str | None = None  # None = stderr goes into the output file
    requeue: bool = True  # after the USR1 checkpoint, requeue so the next allocation resumes
    signal_seconds: int = 300  # USR1 (save a checkpoint) this many seconds before the time limit
    setup: list[str] = field(default_factory=list)  # shell lines run first: module load, venv, ...
    extra_sbatch: list[str] = field(default_factory=list)  # more #SBATCH options, e.g. --reservation=x
    python: str = "python"  # the interpreter on the nodes (after cluster.setup)
    sbatch: str = "sbatch"  # the submit command


@dataclass
class PrepLaunchConfig:
    # The array size is data_prep's own num_tasks (given after --); index i runs task_id=i.
    max_parallel: int | None = None  # Slurm: at most this many array tasks at once (--array=...%N)


@dataclass
class LaunchConfig:
    job: JobKind = JobKind.train
    dry_run: bool = False  # print the command (local) or the script + sbatch command (Slurm) only
    overrides: list[str] = field(default_factory=list)  # passed through to train / data_prep (after --)
    workdir: str | None = None  # where the job runs; None = the current directory
    check_paths: bool = True  # fail early when data.path has no manifest.json
    launch: TorchrunConfig = field(default_factory=TorchrunConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    prep: PrepLaunchConfig = field(default_factory=PrepLaunchConfig)


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
    require(bool(t.torchrun), "launch.torchrun", "must name the torchrun executable")
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


def register() -> None:
    ConfigStore.instance().store(name="launch_schema", node=LaunchConfig)
