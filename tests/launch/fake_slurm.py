"""A tiny stand-in for Slurm on one machine: ``sbatch``, ``srun`` and ``scontrol`` for the launch tests.

``install(bin_dir, state_dir)`` writes the three executables; put ``bin_dir`` first on PATH and set
FAKE_SLURM_DIR=state_dir. Every call is recorded in ``state_dir/calls.jsonl``.

- ``sbatch [--parsable] [--dependency=afterok:ID] SCRIPT`` prints a job id and runs the script in the
  background like a real allocation of ``#SBATCH --nodes`` nodes on localhost (SLURM_* variables, output
  file, ``--array`` tasks one after another). A job that called ``scontrol requeue`` on itself runs again
  with SLURM_RESTART_COUNT+1, as Slurm would start it in a new allocation. ``jobs/ID/pid`` holds the
  batch shell's pid (the target of ``--signal=B:...``), ``jobs/ID/done`` its final exit status.
- ``srun`` starts one process per task, each in its own process group (like slurmstepd) with
  SLURM_NODEID / SLURM_PROCID (and its own ``--output`` file when asked, as submitit does), and forwards
  SIGUSR1/SIGTERM/SIGINT to those process groups.
- ``scontrol show hostnames [LIST]`` and ``scontrol requeue ID``.
FAKE_SBATCH_HOLD=1 only records submissions; FAKE_SBATCH_FAIL=msg makes sbatch fail like a rejected job.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"


def install(bin_dir: Path, state_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("sbatch", "srun", "scontrol"):
        path = bin_dir / tool
        path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(__file__)} {tool} \"$@\"\n")
        path.chmod(0o755)


def environment(bin_dir: Path, state_dir: Path, **extra: str) -> dict[str, str]:
    """Variables that put the fake tools first on PATH (pass to the launch subprocess)."""
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(state_dir), **extra}


def wait_done(state_dir: Path, job_id: str, timeout: float) -> int:
    """The final exit status of a job (after its requeues), waiting up to ``timeout`` seconds."""
    done = state_dir / "jobs" / job_id / "done"
    deadline = time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"fake Slurm job {job_id} not done after {timeout}s")
        time.sleep(0.2)
    return int(done.read_text())


def calls(state_dir: Path) -> list[dict]:
    path = state_dir / "calls.jsonl"
    if not path.exists():
        return []
    # This file also runs as the fake sbatch/srun script (no `tests` package on its path): read inline,
    # leaving out a last line the running job has not finished writing.
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line.strip()]


def _state() -> Path:
    return Path(os.environ["FAKE_SLURM_DIR"])


def _record(tool: str, args: list[str]) -> None:
    with open(_state() / "calls.jsonl", "a") as fh:
        fh.write(json.dumps({"tool": tool, "args": args}) + "\n")


def _directives(script: Path) -> dict[str, str]:
    options = {}
    for line in script.read_text().splitlines():
        match = re.match(r"#SBATCH\s+--([\w-]+)(?:=(.*))?$", line.strip())
        if match:
            options[match.group(1)] = (match.group(2) or "").strip('"')
    return options


def _next_job_id() -> str:
    counter = _state() / "next_job_id"
    job_id = int(counter.read_text()) if counter.exists() else 1001
    counter.write_text(str(job_id + 1))
    return str(job_id)


def sbatch(args: list[str]) -> int:
    _record("sbatch", args)
    if os.environ.get("FAKE_SBATCH_FAIL"):
        print(f"sbatch: error: Batch job submission failed: {os.environ['FAKE_SBATCH_FAIL']}", file=sys.stderr)
        return 1
    script = Path(args[-1]).resolve()
    dependency = next((a.split(":", 1)[1] for a in args if a.startswith("--dependency=afterok:")), None)
    job_id = _next_job_id()
    job_dir = _state() / "jobs" / job_id
    job_dir.mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps({"script": str(script), "cwd": os.getcwd(), "dependency": dependency}))
    if not os.environ.get("FAKE_SBATCH_HOLD"):  # held jobs are only recorded (sbatch --hold)
        subprocess.Popen([sys.executable, __file__, "_run", job_id], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(job_id if "--parsable" in args else f"Submitted batch job {job_id}", flush=True)
    return 0


def _allocation_env(job_id: str, opts: dict[str, str], restarts: int, array_index: int | None) -> dict[str, str]:
    nodes = int(opts.get("nodes", "1"))
    env = {**os.environ, "SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id, "SLURM_JOB_NUM_NODES": str(nodes),
           "SLURM_NNODES": str(nodes), "SLURM_JOB_NODELIST": ",".join([HOST] * nodes),
           "SLURM_SUBMIT_DIR": os.getcwd(), "SLURM_JOB_NAME": opts.get("job-name", "job")}
    if "cpus-per-task" in opts:
        env["SLURM_CPUS_PER_TASK"] = opts["cpus-per-task"]
    if "ntasks-per-node" in opts:
        env["SLURM_NTASKS_PER_NODE"] = opts["ntasks-per-node"]
    if restarts:
        env["SLURM_RESTART_COUNT"] = str(restarts)
    if array_index is not None:
        env.update(SLURM_ARRAY_JOB_ID=job_id, SLURM_ARRAY_TASK_ID=str(array_index))
    return env


def _run_batch(job_id: str, script: Path, opts: dict[str, str], restarts: int, index: int | None) -> int:
    job_dir = _state() / "jobs" / job_id
    output = opts.get("output", "slurm-%j.out").replace("%A", job_id).replace("%j", job_id)
    output = output.replace("%a", str(index) if index is not None else "0")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a") as log:
        proc = subprocess.Popen(["bash", str(script)], env=_allocation_env(job_id, opts, restarts, index),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        (job_dir / "pid").write_text(str(proc.pid))
        return proc.wait()


def run_job(job_id: str) -> None:
    """The allocation(s) of one job: wait for its dependency, run (array tasks / requeues), record status."""
    job_dir = _state() / "jobs" / job_id
    job = json.loads((job_dir / "job.json").read_text())
    os.chdir(job["cwd"])
    script = Path(job["script"])
    opts = _directives(script)
    if job["dependency"] and wait_done(_state(), job["dependency"], timeout=3600) != 0:
        (job_dir / "done").write_text("1")  # DependencyNeverSatisfied
        return
    status, restarts = 0, 0
    match = re.match(r"(\d+)-(\d+)", opts.get("array", ""))
    indices = list(range(int(match.group(1)), int(match.group(2)) + 1)) if match else [None]
    for index in indices:
        while True:
            status = _run_batch(job_id, script, opts, restarts, index)
            requeue = job_dir / "requeue"
            if not requeue.exists():
                break
            requeue.unlink()  # Slurm would start the same script again in a new allocation
            restarts += 1
        if status != 0:
            break
    (job_dir / "done").write_text(str(status))


_VALUE_OPTIONS = {"--output", "--error", "-o", "-e"}  # srun options whose value is the next argument


def _split_srun_args(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """srun options (``--key=value``, ``--key value`` or flags) and the command after them."""
    options, i = {}, 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in _VALUE_OPTIONS:
            options[args[i].lstrip("-")], i = args[i + 1], i + 2
            continue
        key, _, value = args[i].lstrip("-").partition("=")
        options[key], i = value, i + 1
    return options, args[i:]


def _task_output(options: dict[str, str], rank: int) -> int | None:
    path = options.get("output") or options.get("o")
    if not path:
        return None  # inherit the batch script's output
    job_id = os.environ.get("SLURM_JOB_ID", "0")
    for pattern, value in (("%A", os.environ.get("SLURM_ARRAY_JOB_ID", job_id)),
                           ("%a", os.environ.get("SLURM_ARRAY_TASK_ID", "0")), ("%j", job_id), ("%t", str(rank))):
        path = path.replace(pattern, value)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def srun(args: list[str]) -> int:
    _record("srun", args)
    options, command = _split_srun_args(args)
    nodes = int(options.get("nodes", os.environ.get("SLURM_JOB_NUM_NODES", "1")))
    per_node = int(options.get("ntasks-per-node", os.environ.get("SLURM_NTASKS_PER_NODE", "1")))
    ntasks = int(options.get("ntasks", str(nodes * per_node)))
    tasks = []
    for rank in range(ntasks):
        env = {**os.environ, "SLURM_NODEID": str(rank // per_node), "SLURM_PROCID": str(rank),
               "SLURM_LOCALID": str(rank % per_node), "SLURM_NTASKS": str(ntasks), "SLURM_STEP_ID": "0"}
        out = _task_output(options, rank)
        tasks.append(subprocess.Popen(command, env=env, start_new_session=True, stdout=out, stderr=out))

    def forward(signum: int, _frame: object) -> None:
        for task in tasks:
            if task.poll() is None:
                os.killpg(task.pid, signum)

    for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    while any(task.poll() is None for task in tasks):
        if any(task.returncode not in (None, 0) for task in tasks):  # --kill-on-bad-exit
            forward(signal.SIGTERM, None)
        time.sleep(0.1)
    return next((task.returncode for task in tasks if task.returncode != 0), 0)


def scontrol(args: list[str]) -> int:
    _record("scontrol", args)
    if args[:2] == ["show", "hostnames"]:
        nodelist = args[2] if len(args) > 2 else os.environ["SLURM_JOB_NODELIST"]
        print("\n".join(nodelist.split(",")))
        return 0
    if args[:1] == ["requeue"] and len(args) == 2:
        (_state() / "jobs" / args[1] / "requeue").touch()
        return 0
    print(f"fake scontrol: unsupported {args}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    tool, rest = sys.argv[1], sys.argv[2:]
    if tool == "_run":
        run_job(rest[0])
        sys.exit(0)
    sys.exit({"sbatch": sbatch, "srun": srun, "scontrol": scontrol}[tool](rest))
