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
    array, merge = slurm.render_prep(cfg, target)
    if cfg.dry_run:
        submit_array = shlex.join(slurm.sbatch_argv(cfg, array))
        submit_merge = (f"{shlex.quote(cfg.cluster.sbatch)} --parsable "
                        f'--dependency=afterok:"${{PREP_JOB_ID%%;*}}" {shlex.quote(merge.path)}')
        slurm.print_dry_run([array, merge], [f"PREP_JOB_ID=$({submit_array})", submit_merge])
        return 0
    slurm.save([array, merge], _saved_configs(raw, target), target.launch_dir)
    array_id = slurm.submit(cfg, array, target.workdir)
    merge_id = slurm.submit(cfg, merge, target.workdir, dependency=array_id)
    print(array_id, merge_id, sep="\n", flush=True)
    print(f"[launch] submitted data_prep array job {array_id} ({target.config.num_tasks} tasks) and merge "
          f"job {merge_id} (afterok); scripts and logs in {target.launch_dir}", file=sys.stderr, flush=True)
    return 0


def run_launch(cfg: LaunchConfig, raw: DictConfig) -> int:
    """Run or submit the job; return the exit status for this process."""
    target = resolve_target(cfg)
    if cfg.cluster.kind == ClusterKind.local:
        return _run_local(cfg, target)
    if cfg.job == JobKind.train:
        return _submit_train(cfg, raw, target)
    return _submit_prep(cfg, raw, target)
