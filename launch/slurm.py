"""Slurm: render sbatch scripts from the config (templates/), save them with the resolved config, submit."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2

from launch import torchrun
from launch.config import ClusterConfig, GpuDirective, LaunchConfig
from launch.overrides import key_of
from launch.target import Target
from openpretrain.errors import ConfigError, UserError

TEMPLATES = Path(__file__).with_name("templates")
_LINE_BREAK = " \\\n    "


@dataclass
class Script:
    name: str  # train, or the data_prep stage
    path: str  # where it is saved (and submitted from)
    text: str


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["q"] = shlex.quote
    return env


def _directive_value(value: str) -> str:
    # sbatch splits #SBATCH lines on whitespace unless the value is quoted
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


def _extra_options(c: ClusterConfig) -> list[str]:
    options = []
    for i, line in enumerate(c.extra_sbatch):
        option = line.strip().removeprefix("#SBATCH").strip()
        if not option.startswith("-"):
            raise ConfigError(f"cluster.extra_sbatch[{i}]", f"must be an sbatch option like --reservation=x, got {line!r}")
        options.append(option)
    return options


def _options(c: ClusterConfig, job_name: str, output: str, resources: list[str], behaviour: list[str]) -> list[str]:
    """#SBATCH options in reading order: who and where, what it needs, how long, logs, mail, extras."""
    options = [f"--job-name={_directive_value(job_name)}"]
    for flag, value in (("partition", c.partition), ("account", c.account), ("qos", c.qos)):
        if value:
            options.append(f"--{flag}={_directive_value(value)}")
    options += resources
    for flag, value in (("mem", c.mem), ("time", c.time), ("constraint", c.constraint)):
        if value not in (None, ""):
            options.append(f"--{flag}={_directive_value(str(value))}")
    options += behaviour
    options.append(f"--output={_directive_value(c.output or output)}")
    if c.error:
        options.append(f"--error={_directive_value(c.error)}")
    options.append("--open-mode=append")  # a requeued job appends to its log instead of truncating it
    if c.mail_user:
        options.append(f"--mail-user={c.mail_user}")
    if c.mail_type:
        options.append(f"--mail-type={','.join(kind.strip().upper() for kind in c.mail_type)}")
    return options + _extra_options(c)


def _train_options(cfg: LaunchConfig, target: Target) -> list[str]:
    c = cfg.cluster
    resources = [f"--nodes={c.nodes}", "--ntasks-per-node=1"]
    if c.gpus_per_node > 0 and c.gpu_directive == GpuDirective.gpus_per_node:
        resources.append(f"--gpus-per-node={c.gpus_per_node}")
    elif c.gpus_per_node > 0 and c.gpu_directive == GpuDirective.gres:
        resources.append(f"--gres=gpu:{c.gpus_per_node}")
    if c.cpus_per_task:
        resources.append(f"--cpus-per-task={c.cpus_per_task}")
    if c.exclusive:
        resources.append("--exclusive")
    behaviour = [f"--signal=B:USR1@{c.signal_seconds}",  # only the batch shell; it forwards the signal
                 "--requeue" if c.requeue else "--no-requeue"]
    return _options(c, c.job_name, os.path.join(target.launch_dir, "slurm-%j.out"), resources, behaviour)


def node_python(cfg: LaunchConfig) -> str:
    """cluster.python, or the absolute path of the Python running launch (a venv works unactivated)."""
    return cfg.cluster.python or sys.executable


def _node_torchrun(cfg: LaunchConfig, target: Target) -> str:
    """The torchrun line each node runs; rendezvous values come from the allocation at run time."""
    logs = shlex.quote(torchrun.log_dir(cfg, target)) + '/"job$SLURM_JOB_ID-node$SLURM_NODEID"'
    flags = torchrun.process_flags(cfg)
    if torchrun.wants_rank_logs(cfg):  # per node and job: ranks restart at 0 on every node
        flags += [f"--log-dir={logs}", *torchrun.stream_flags(cfg)]
    groups = [
        shlex.join(torchrun.torchrun_argv(cfg, node_python(cfg))),
        '--nnodes="$SLURM_JOB_NUM_NODES" --node-rank="$SLURM_NODEID"',
        '--rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$RDZV_PORT" --rdzv-id="$SLURM_JOB_ID"',
        " ".join(flags),
        shlex.join(torchrun.entry_args(target)),
    ]
    return _LINE_BREAK.join(groups)


def render_train(cfg: LaunchConfig, target: Target) -> Script:
    c = cfg.cluster
    text = _environment().get_template("train.sbatch.j2").render(
        sbatch_options=_train_options(cfg, target), setup=c.setup, workdir=target.workdir,
        env=sorted(cfg.launch.env.items()), omp_num_threads=cfg.launch.omp_num_threads,
        nproc=torchrun.nproc_per_node(cfg), rdzv_port=cfg.launch.rdzv_port,
        cpus_per_task=c.cpus_per_task, requeue=c.requeue, torchrun=_node_torchrun(cfg, target),
    )
    return Script(name="train", path=os.path.join(target.launch_dir, "train.sbatch"), text=text)


@dataclass(frozen=True)
class PrepStage:
    name: str
    array: int  # array size: one data_prep task (or dedup bucket) per index; 0 = a single job
    args: tuple[str, ...]  # appended to the user's data_prep overrides
    comment: str


_PER_TASK = ('task_id="$SLURM_ARRAY_TASK_ID"',)
_PER_BUCKET = ('bucket_id="$SLURM_ARRAY_TASK_ID"',)


def prep_stages(target: Target) -> list[PrepStage]:
    """The Slurm jobs of one data_prep run, each depending (afterok) on the one before."""
    tasks = int(target.config.num_tasks)
    merge = PrepStage("merge", 0, ("step=merge",), "after every task succeeded: merge them and write the manifest")
    dedup = target.config.pipeline.dedup
    if not (dedup.exact or dedup.near):
        return [PrepStage("prep", tasks, _PER_TASK, f"one data_prep task per array index ({tasks} tasks)"), merge]
    buckets = int(dedup.buckets)
    return [  # whole-run dedup runs each task in two phases around the dedup buckets and their union
        PrepStage("filter", tasks, ("step=filter", *_PER_TASK),
                  f"phase 1 of {tasks} tasks: filter, dedup signatures sorted into runs"),
        PrepStage("dedup_bucket", buckets, ("step=dedup_bucket", *_PER_BUCKET),
                  f"dedup: the duplicate groups of one of {buckets} key-range buckets per array index"),
        PrepStage("dedup_union", 0, ("step=dedup_union",), "dedup: decide what to remove from the groups (one job)"),
        PrepStage("pack", tasks, ("step=pack", *_PER_TASK), f"phase 2 of {tasks} tasks: tokenize and pack what is kept"),
        merge,
    ]


def _prep_command(cfg: LaunchConfig, target: Target, stage: PrepStage) -> str:
    for key in ("task_id", "step", "bucket_id"):
        if any(key_of(o) == key for o in target.overrides):
            raise UserError(f"data_prep override {key}=... is set by launch for each Slurm job; drop it")
    return " ".join([shlex.join([node_python(cfg), "-m", target.spec.module, *target.overrides]), *stage.args])


def render_prep(cfg: LaunchConfig, target: Target) -> list[Script]:
    """data_prep as a chain of jobs: task arrays (one task per index) and single steps, ending in the merge."""
    c = cfg.cluster
    throttle = f"%{cfg.prep.max_parallel}" if cfg.prep.max_parallel else ""
    resources = ["--nodes=1", "--ntasks=1"] + ([f"--cpus-per-task={c.cpus_per_task}"] if c.cpus_per_task else [])
    behaviour = ["--requeue" if c.requeue else "--no-requeue"]  # finished shards are kept: a rerun continues
    scripts = []
    for stage in prep_stages(target):
        log_name = f"{stage.name}-%A_%a.out" if stage.array else f"{stage.name}-%j.out"
        options = _options(c, f"{c.job_name}-{stage.name}", os.path.join(target.launch_dir, log_name),
                           ([f"--array=0-{stage.array - 1}{throttle}"] if stage.array else []) + resources,
                           behaviour)
        text = _environment().get_template("prep.sbatch.j2").render(
            sbatch_options=options, setup=c.setup, workdir=target.workdir, stage_comment=stage.comment,
            stage_name=stage.name, command=_prep_command(cfg, target, stage))
        scripts.append(Script(name=stage.name, path=os.path.join(target.launch_dir, f"{stage.name}.sbatch"), text=text))
    return scripts


def sbatch_argv(cfg: LaunchConfig, script: Script, dependency: str | None = None) -> list[str]:
    extra = [f"--dependency=afterok:{dependency}"] if dependency else []
    return [cfg.cluster.sbatch, "--parsable", *extra, script.path]


def chained_submit_commands(cfg: LaunchConfig, scripts: list[Script]) -> list[str]:
    """Shell lines that submit the scripts in order, each after the previous one succeeded (afterok)."""
    lines, previous = [], None
    for script in scripts:
        variable = f"{script.name.upper()}_JOB_ID"
        dependency = f' --dependency=afterok:"${{{previous}%%;*}}"' if previous else ""
        lines.append(f"{variable}=$({shlex.quote(cfg.cluster.sbatch)} --parsable{dependency} {shlex.quote(script.path)})")
        previous = variable
    return lines


def submit(cfg: LaunchConfig, script: Script, workdir: str, dependency: str | None = None) -> str:
    """sbatch the saved script; return the job id."""
    argv = sbatch_argv(cfg, script, dependency)
    try:
        proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{cfg.cluster.sbatch!r} not found on PATH (cluster.sbatch); is this a Slurm login node?") from None
    if proc.returncode != 0:
        raise UserError(f"sbatch failed (exit {proc.returncode}): {' '.join(proc.stderr.split()) or proc.stdout.strip()}")
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise UserError(f"sbatch printed no job id: {proc.stdout.strip()!r}")
    return job_id


def save(scripts: list[Script], configs: dict[str, str], launch_dir: str) -> None:
    """Write the scripts and the resolved configs side by side (the Slurm log files land there too)."""
    os.makedirs(launch_dir, exist_ok=True)
    for script in scripts:
        Path(script.path).write_text(script.text)
        os.chmod(script.path, 0o755)
    for name, text in configs.items():
        Path(launch_dir, name).write_text(text)


def print_dry_run(scripts: list[Script], commands: list[str]) -> None:
    for script in scripts:
        print(f"# ---- {script.path} ----")
        sys.stdout.write(script.text)
    print("# ---- submit ----")
    for command in commands:
        print(command)
