"""All dedup steps in one command (``step=dedup``, ``step=all``): sort what is unsorted, every bucket in
``workers`` processes, then the union. A Slurm run does the same as array jobs (launch/slurm.py)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence

from data_prep.dedup.buckets import run_bucket
from data_prep.dedup.layout import DedupDirs
from data_prep.dedup.sort_runs import sort_task
from data_prep.dedup.union import run_union
from data_prep.stages.filters.config import DedupConfig


def _sort_job(args: tuple[DedupDirs, int, Sequence[str], DedupConfig]) -> None:
    sort_task(*args)


def _bucket_job(args: tuple[DedupDirs, int, DedupConfig]) -> None:
    run_bucket(*args)


def _map(fn, jobs: list, workers: int) -> None:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            fn(job)
        return
    # spawn, like the task workers: each job memory-maps its own files and is bounded by memory_mb
    with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        for _ in pool.imap_unordered(fn, jobs):
            pass


def dedup_locally(dirs: DedupDirs, task_files: Sequence[Sequence[str]], cfg: DedupConfig, workers: int = 1,
                  keep_intermediate: bool = False) -> dict[str, int]:
    """The remaining dedup work of the run; returns removed counts by reason (empty if it was done)."""
    _map(_sort_job, [(dirs, t, list(task_files[t]), cfg) for t in dirs.unsorted_tasks()], workers)
    _map(_bucket_job, [(dirs, j, cfg) for j in range(cfg.buckets)], workers)
    return run_union(dirs, cfg, keep_intermediate)
