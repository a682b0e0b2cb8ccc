"""A real two-node Slurm cluster on this machine for the launch tests: munged, slurmctld, slurmd n1 and n2.

Debian's ``slurm-wlm`` (22.05) and ``munge`` (``.ci/install_slurm`` installs them). Everything the
daemons write lives in one temporary state dir: the munge key and socket, ``slurm.conf`` (free ports,
so it never meets another cluster on the machine), spool and state dirs, logs. The daemons run in the
foreground as our children and are stopped by their pids. Clients find the cluster through
``SLURM_CONF`` (in ``env``); sbatch passes the environment on to the jobs, so ``scontrol`` inside a job
finds it too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NODES = ("n1", "n2")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "scontrol", "scancel", "sinfo", "squeue")
# How long a requeued job waits before it may start again (Slurm's AuthInfo cred_expire; default 120 s,
# the job credential's lifetime). Short here so the requeue test fits in CI; the behaviour is the same.
CRED_EXPIRE_S = 5

CONF = """\
ClusterName=openpretrain-test
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
AuthType=auth/munge
AuthInfo=socket={socket},cred_expire={cred_expire}
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd-%n.pid
SlurmdSpoolDir={state}/slurmd-%n
StateSaveLocation={state}/ctld
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd-%n.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
MpiDefault=none
KillWait=30
MinJobAge=600
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n1_port} CPUs=2 RealMemory=4000
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n2_port} CPUs=2 RealMemory=4000
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
"""


def unavailable_reason() -> str | None:
    """Why a real cluster cannot start here (None: it can)."""
    missing = [tool for tool in (*DAEMONS, *CLIENTS) if shutil.which(tool) is None
               and not Path("/usr/sbin", tool).exists()]
    if missing:
        return f"Slurm/munge not installed ({', '.join(missing)} missing; .ci/install_slurm installs them)"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    for node in NODES:
        try:
            socket.gethostbyname(node)
        except OSError:
            return f"node name {node} does not resolve (.ci/install_slurm adds '127.0.0.1 n1 n2' to /etc/hosts)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class Cluster:
    state: Path
    env: dict[str, str]  # add to a subprocess's environment to talk to this cluster
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return proc

    def jobs(self, job_id: str) -> list[dict[str, str]]:
        """``scontrol show job``'s fields (JobState, ExitCode, Restarts, StartTime, ...), one per array task."""
        text = self.run("scontrol", "show", "job", "-o", job_id).stdout
        return [dict(item.split("=", 1) for item in line.split() if "=" in item) for line in text.splitlines()]

    def job(self, job_id: str) -> dict[str, str]:
        [fields] = self.jobs(job_id)
        return fields

    def wait_gone(self, job_id: str, timeout: float) -> None:
        """Wait until squeue no longer lists the job (every task ended, nothing left completing)."""
        deadline = time.monotonic() + timeout
        while self.run("squeue", "-h", "-j", job_id, "-o", "%i %T", check=False).stdout.strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still queued after {timeout}s: "
                                   f"{self.run('squeue', '-h', '-j', job_id, check=False).stdout}")
            time.sleep(0.5)

    def wait_job(self, job_id: str, states: tuple[str, ...], timeout: float) -> dict[str, str]:
        """Wait until the job is in one of ``states``; its fields then."""
        deadline = time.monotonic() + timeout
        while True:
            fields = self.job(job_id)
            if fields.get("JobState") in states:
                return fields
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {fields.get('JobState')} after {timeout}s "
                                   f"(waiting for {states}); slurmctld log: {self.state / 'slurmctld.log'}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Kill what is still queued (a failed test's job), then stop the daemons we started, by pid."""
        if self.daemons and all(proc.poll() is None for proc in self.daemons):
            self.run("scancel", "--partition=debug", check=False)
            deadline = time.monotonic() + 30
            while self.run("squeue", "-h", check=False).stdout.strip() and time.monotonic() < deadline:
                time.sleep(0.5)
        for proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.daemons):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _write_config(state: Path) -> Path:
    key = state / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = state / "slurm.conf"
    conf.write_text(CONF.format(state=state, socket=state / "munge.socket", cred_expire=CRED_EXPIRE_S,
                                ctld_port=free_port(), n1_port=free_port(), n2_port=free_port()))
    (state / "ctld").mkdir()
    return conf


def _start(cluster: Cluster, argv: list[str], log_name: str) -> None:
    log = open(cluster.state / log_name, "ab")  # noqa: SIM115 - the daemon keeps it open
    cluster.daemons.append(subprocess.Popen(argv, env={**os.environ, **cluster.env}, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))


def _wait_for(what: str, ready, cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p.args[0] for p in cluster.daemons if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError(f"local Slurm: {what} not ready ({'exited: ' + ', '.join(dead) if dead else 'timeout'});"
                               f" logs in {cluster.state}")
        time.sleep(0.3)


def start(state: Path) -> Cluster:
    """munged, slurmctld, then one slurmd per node; returns when sinfo shows both nodes idle."""
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # munged refuses a socket dir others may write to
    conf = _write_config(state)
    cluster = Cluster(state=state, env={"SLURM_CONF": str(conf)})
    _start(cluster, [_daemon("munged"), "--foreground", "--force", f"--socket={state / 'munge.socket'}",
                     f"--key-file={state / 'munge.key'}", f"--pid-file={state / 'munged.pid'}",
                     f"--log-file={state / 'munged.log'}", f"--seed-file={state / 'munged.seed'}"], "munged.out")
    _wait_for("munged", (state / "munge.socket").exists, cluster)
    _start(cluster, [_daemon("slurmctld"), "-D", "-i", "-f", str(conf)], "slurmctld.out")
    _wait_for("slurmctld", lambda: cluster.run("scontrol", "ping", check=False).returncode == 0, cluster)
    for node in NODES:
        _start(cluster, [_daemon("slurmd"), "-D", "-N", node, "-f", str(conf)], f"slurmd-{node}.out")

    def idle() -> bool:
        states = cluster.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split()
        return states.count("idle") == len(NODES)

    _wait_for("slurmd n1, n2 (idle)", idle, cluster)
    return cluster
