"""``python -m launch [cluster=local|slurm] [launch overrides] [-m] -- [train or data_prep overrides]``.

Everything after ``--`` goes to the job unchanged (``python -m train`` by default, ``job=prep`` for
``python -m data_prep``); with ``-m`` their sweeps (``optim.lr=1e-3,3e-3``) become one job each.
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from launch.app import in_sweep, run_launch
from launch.config import JobKind, LaunchConfig, register, validate
from launch.overrides import expand, is_multirun, job_from_launch_args, launch_override, split_argv
from launch.target import compose_target
from openpretrain.cli import hydra_entry, report_user_errors, to_object
from openpretrain.errors import UserError

register()


def _check_sweep(launch_args: list[str], combinations: list[list[str]]) -> None:
    """Every job of a sweep must be valid before the first one is started or submitted."""
    try:
        kind = JobKind(job_from_launch_args(launch_args))
    except ValueError:
        return  # Hydra reports the bad job= value itself
    if kind == JobKind.loop:
        raise UserError("job=loop: sweeps (-m) are not supported; run one loop per loop.dir")
    for combo in combinations:
        compose_target(kind, combo, workdir=".", check_paths=False)


@report_user_errors
def _hydra_argv(argv: list[str]) -> list[str]:
    """Launch's own arguments plus one ``overrides=...`` argument carrying the job overrides."""
    launch_args, job_overrides = split_argv(argv)
    if job_overrides is None:
        return launch_args
    combinations = expand(job_overrides, is_multirun(launch_args))
    if len(combinations) > 1:
        _check_sweep(launch_args, combinations)
    return [*launch_args, launch_override(combinations)]


@hydra_entry("launch")
def _launch(cfg: DictConfig) -> None:
    launch_cfg: LaunchConfig = to_object(cfg)
    validate(launch_cfg)
    status = run_launch(launch_cfg, cfg)
    if status != 0:
        if in_sweep():  # stop the sweep with a clear line rather than a traceback
            raise UserError(f"job exited with status {status}")
        sys.exit(status)


def main() -> None:
    sys.argv = [sys.argv[0], *_hydra_argv(sys.argv[1:])]
    _launch()


if __name__ == "__main__":
    main()
