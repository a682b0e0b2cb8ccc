"""torchrun command lines: built here for this machine (cluster=local) and for Slurm's node script."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from launch.config import ClusterKind, JobKind, LaunchConfig
from launch.target import Target
from openpretrain.errors import UserError

# Ctrl-C reaches torchrun directly (same process group); these would otherwise stop only this process.
_FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # set on top of the current environment

    def render(self) -> str:
        """The command as one shell line: ``VAR=value ... argv`` (shlex-quoted)."""
        assignments = [f"{key}={shlex.quote(value)}" for key, value in self.env.items()]
        return " ".join([*assignments, shlex.join(self.argv)])


def torchrun_argv(cfg: LaunchConfig, python: str = sys.executable) -> list[str]:
    """launch.torchrun, or ``python -m torch.distributed.run`` (torchrun of that Python, no PATH needed)."""
    if cfg.launch.torchrun:
        return [cfg.launch.torchrun]
    return [python, "-m", "torch.distributed.run"]


def nproc_per_node(cfg: LaunchConfig) -> int:
    """Processes per node: launch.nproc_per_node, else one per GPU on Slurm, else 1."""
    if cfg.launch.nproc_per_node is not None:
        return cfg.launch.nproc_per_node
    if cfg.cluster.kind == ClusterKind.slurm and cfg.cluster.gpus_per_node > 0:
        return cfg.cluster.gpus_per_node
    return 1


def log_dir(cfg: LaunchConfig, target: Target) -> str:
    return cfg.launch.log_dir or os.path.join(target.output_dir, "logs")


def process_flags(cfg: LaunchConfig) -> list[str]:
    return [f"--nproc-per-node={nproc_per_node(cfg)}", f"--max-restarts={cfg.launch.max_restarts}"]


def wants_rank_logs(cfg: LaunchConfig) -> bool:
    return bool(cfg.launch.redirects or cfg.launch.tee)


def stream_flags(cfg: LaunchConfig) -> list[str]:
    """Which streams of every rank go to its own log file (and also to the console)."""
    t = cfg.launch
    return ([f"--redirects={t.redirects}"] if t.redirects else []) + ([f"--tee={t.tee}"] if t.tee else [])


def worker_flags(cfg: LaunchConfig, logs: str) -> list[str]:
    """torchrun flags for the workers: processes, restarts, per-rank log files under ``logs``."""
    return [*process_flags(cfg), *([f"--log-dir={logs}"] if wants_rank_logs(cfg) else []), *stream_flags(cfg)]


def entry_args(target: Target) -> list[str]:
    """``-m <module> <overrides...>``: the job overrides exactly as given."""
    return ["-m", target.spec.module, *target.overrides]


def _cpus_here() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_env(cfg: LaunchConfig, nproc: int) -> dict[str, str]:
    """OMP_NUM_THREADS (explicit, inherited, or CPUs / processes) followed by launch.env."""
    env: dict[str, str] = {}
    if cfg.launch.omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = str(cfg.launch.omp_num_threads)
    elif "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, _cpus_here() // nproc))
    env.update({key: str(value) for key, value in cfg.launch.env.items()})
    return env


def _slurm_rendezvous(cfg: LaunchConfig) -> list[str]:
    """Rendezvous flags for one task per node inside a Slurm allocation (launch.slurm_env=true)."""
    missing = [v for v in ("SLURM_JOB_ID", "SLURM_JOB_NUM_NODES", "SLURM_NODEID", "SLURM_JOB_NODELIST")
               if v not in os.environ]
    if missing:
        raise UserError(f"launch.slurm_env=true needs a Slurm allocation; {', '.join(missing)} not set")
    try:
        hosts = subprocess.run(["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]],
                               capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UserError(f"launch.slurm_env=true: 'scontrol show hostnames' failed: {exc}") from None
    return [f"--nnodes={os.environ['SLURM_JOB_NUM_NODES']}", f"--node-rank={os.environ['SLURM_NODEID']}",
            "--rdzv-backend=c10d", f"--rdzv-endpoint={hosts[0]}:{cfg.launch.rdzv_port}",
            f"--rdzv-id={os.environ['SLURM_JOB_ID']}"]


def _rendezvous(cfg: LaunchConfig) -> list[str]:
    t = cfg.launch
    if t.slurm_env:
        return _slurm_rendezvous(cfg)
    if t.rdzv_endpoint is None:  # single node: c10d on localhost with a free port
        return ["--standalone"]
    return [f"--nnodes={t.nnodes}", f"--node-rank={t.node_rank}", "--rdzv-backend=c10d",
            f"--rdzv-endpoint={t.rdzv_endpoint}", f"--rdzv-id={t.rdzv_id}"]


def local_command(cfg: LaunchConfig, target: Target) -> Command:
    """What cluster=local runs on this machine: torchrun for train, plain python for data_prep."""
    if target.kind == JobKind.prep:  # data_prep runs its own process pool (num_tasks, num_workers)
        return Command(argv=[sys.executable, *entry_args(target)])
    nproc = nproc_per_node(cfg)
    argv = [*torchrun_argv(cfg), *_rendezvous(cfg), *worker_flags(cfg, log_dir(cfg, target)),
            *entry_args(target)]
    return Command(argv=argv, env=local_env(cfg, nproc))


def run(command: Command, cwd: str) -> int:
    """Run the command to completion, passing SIGTERM/SIGHUP on; return its exit status."""
    try:
        proc = subprocess.Popen(command.argv, env={**os.environ, **command.env}, cwd=cwd)
    except FileNotFoundError:
        raise UserError(f"{command.argv[0]!r} not found on PATH (launch.torchrun names it)") from None
    previous = {sig: signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
                for sig in _FORWARDED_SIGNALS}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
