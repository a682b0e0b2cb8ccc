"""What ``python -m launch`` does with a validated config: run torchrun here, or render + submit to Slurm."""

from __future__ import annotations

import os
import shlex
import sys

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from launch import slurm, torchrun
from launch.config import ClusterKind, JobKind, LaunchConfig
from launch.overrides import set_value
from launch.target import Target, compose_target
from openpretrain.cli import resolved_yaml


def sweep_job_number() -> int | None:
    """This job's number within a ``-m`` sweep, or None for a single run."""
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    return int(hydra_cfg.job.num) if hydra_cfg.mode == RunMode.MULTIRUN else None


def in_sweep() -> bool:
    return sweep_job_number() is not None


def resolve_target(cfg: LaunchConfig) -> Target:
    """The job config, composed and checked; in a sweep every job gets its own output directory."""
    workdir = os.path.abspath(cfg.workdir or os.getcwd())
    target = compose_target(cfg.job, cfg.overrides, workdir, cfg.check_paths)
    job_number = sweep_job_number()
    if job_number is None:
        return target
    key = target.spec.output_key
    per_job = os.path.join(str(target.config[key]), str(job_number))  # <run_dir>/<job number>
    return compose_target(cfg.job, set_value(cfg.overrides, key, per_job), workdir, cfg.check_paths)


def _run_local(cfg: LaunchConfig, target: Target) -> int:
    command = torchrun.local_command(cfg, target)
    if cfg.dry_run:
        print(command.render(), flush=True)
        return 0
    print(f"[launch] {command.render()}", file=sys.stderr, flush=True)
    return torchrun.run(command, cwd=target.workdir)


def _saved_configs(raw: DictConfig, target: Target) -> dict[str, str]:
    return {"launch.yaml": resolved_yaml(raw),
            f"{target.spec.config_name}.yaml": OmegaConf.to_yaml(target.config, resolve=True)}


def _submit_train(cfg: LaunchConfig, raw: DictConfig, target: Target) -> int:
    script = slurm.render_train(cfg, target)
    if cfg.dry_run:
        slurm.print_dry_run([script], [shlex.join(slurm.sbatch_argv(cfg, script))])
        return 0
    slurm.save([script], _saved_configs(raw, target), target.launch_dir)
    job_id = slurm.submit(cfg, script, target.workdir)
    print(job_id, flush=True)
    print(f"[launch] submitted Slurm job {job_id}: {script.path} (logs and resolved configs beside it)",
          file=sys.stderr, flush=True)
    return 0


def _submit_prep(cfg: LaunchConfig, raw: DictConfig, target: Target) -> int:
    scripts = slurm.render_prep(cfg, target)
    if cfg.dry_run:
        slurm.print_dry_run(scripts, slurm.chained_submit_commands(cfg, scripts))
        return 0
    slurm.save(scripts, _saved_configs(raw, target), target.launch_dir)
    job_ids: list[str] = []
    for script in scripts:
        job_ids.append(slurm.submit(cfg, script, target.workdir, dependency=job_ids[-1] if job_ids else None))
    print(*job_ids, sep="\n", flush=True)
    chain = ", ".join(f"{script.name} {job_id}" for script, job_id in zip(scripts, job_ids))
    print(f"[launch] submitted data_prep ({target.config.num_tasks} tasks) as {chain}, each afterok the one "
          f"before; scripts and logs in {target.launch_dir}", file=sys.stderr, flush=True)
    return 0


def run_launch(cfg: LaunchConfig, raw: DictConfig) -> int:
    """Run or submit the job; return the exit status for this process."""
    if cfg.job == JobKind.loop:
        from launch.loop.driver import run_loop

        return run_loop(cfg)
    target = resolve_target(cfg)
    if cfg.cluster.kind == ClusterKind.local:
        return _run_local(cfg, target)
    if cfg.job == JobKind.train:
        return _submit_train(cfg, raw, target)
    return _submit_prep(cfg, raw, target)
