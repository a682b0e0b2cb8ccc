"""The steps of a task, each run by ``runner.task.run_step``.

- ``OnePassStep``: the raw input -> stages -> tokens -> this task's shards (runs without whole-run dedup).
- With whole-run dedup (pipeline.dedup.exact / near), around the dedup steps (data_prep/dedup):
  1. ``FilterStep``: each task's kept documents go to ``part-N.parquet`` with their signatures beside them;
     then the task sorts its signatures into runs (``run_filter_task``).
  2. ``run_dedup_step`` (all here) or ``run_dedup_bucket_step`` per bucket + ``run_dedup_union_step``:
     which document ids to remove (one kept per exact group / near-duplicate cluster, the smallest id, so
     the result does not depend on the split into tasks); the decision is stored per task.
  3. ``DedupPackStep``: each task reads its parts back in order, ``DedupFilter`` rejects the removed ids
     (``dedup/exact``, ``dedup/near``), the rest is tokenized and packed exactly as in a one-pass run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from data_prep.config import PrepConfig
from data_prep.dedup import DedupDirs, dedup_locally
from data_prep.dedup.buckets import run_bucket
from data_prep.dedup.layout import plain_config
from data_prep.dedup.parts import part_paths, read_part
from data_prep.dedup.sort_runs import sort_task
from data_prep.dedup.union import run_union
from data_prep.document import Document, Stats
from data_prep.runner.state import FilterState, PackState
from data_prep.runner.task import StepPlan, TaskContext, read_json, run_step, task_dir, task_limit
from data_prep.runner.work import ChunkProcessor, DedupAndTokenize, FilterProcessor
from data_prep.sources import build_source
from data_prep.sources.base import ShareByPosition
from data_prep.stages.dedup_signature import SIGNATURE_SUFFIX
from openpretrain.errors import UserError

DONE_MARKER = "done.json"  # the pack step's marker: the task's shards are complete
FILTER_MARKER = "filter-done.json"
DEDUP_DIR = "dedup"


def done_marker(work_dir: str, task_id: int) -> str:
    return os.path.join(task_dir(work_dir, task_id), DONE_MARKER)


def filter_marker(work_dir: str, task_id: int) -> str:
    return os.path.join(task_dir(work_dir, task_id), FILTER_MARKER)


class _Step:
    """One step of task ``task_id`` (``runner.task.TaskStep``); subclasses say what it reads and runs."""

    marker_name: str
    checkpoint_name: str

    def __init__(self, cfg: PrepConfig, ctx: TaskContext, task_id: int) -> None:
        self.cfg, self.ctx, self.task_id = cfg, ctx, task_id

    def _source_share(self) -> dict[str, Any]:
        """This task's share of the configured source (the first phase of every run reads it)."""
        cfg = self.cfg
        return {"source": build_source(cfg.source, self.task_id, cfg.num_tasks, os.path.abspath(cfg.out_dir)),
                "limit": task_limit(cfg.max_docs, self.task_id, cfg.num_tasks)}


class OnePassStep(_Step):
    marker_name = DONE_MARKER
    checkpoint_name = "state.pkl"

    def plan(self) -> StepPlan:
        cfg, ctx = self.cfg, self.ctx
        return StepPlan(
            **self._source_share(), worker=ChunkProcessor,
            worker_args=(cfg, ctx.tokenizer_path, ctx.eos_id, ctx.token_dtype),
            state=PackState(cfg, ctx, self.task_id), rejects_phase="filter",
        )


class FilterStep(_Step):
    """Phase 1: one task's input -> kept documents + their dedup signatures, a part per unit of work."""

    marker_name = FILTER_MARKER
    checkpoint_name = "filter-state.pkl"

    def plan(self) -> StepPlan:
        return StepPlan(
            **self._source_share(), worker=FilterProcessor,
            worker_args=(self.cfg, task_dir(self.ctx.work_dir, self.task_id)),
            state=FilterState(), rejects_phase="filter",
        )


class PartsSource(ShareByPosition):
    """The filter phase's kept documents of one task, in order."""

    def __init__(self, folder: str) -> None:
        super().__init__("parts", 0, 1)
        self.folder = folder

    def all_records(self) -> Iterator[Document]:  # type: ignore[override]
        for path in part_paths(self.folder):
            yield from read_part(path)


class DedupPackStep(_Step):
    """Phase 2: the task's parts -> drop removed duplicates -> its shards; counters continue phase 1's."""

    marker_name = DONE_MARKER
    checkpoint_name = "state.pkl"

    def plan(self) -> StepPlan:
        cfg, ctx, task_id = self.cfg, self.ctx, self.task_id
        if not dedup_done(ctx.work_dir):
            raise UserError("cannot pack: the dedup step has not run yet (python -m data_prep ... step=dedup)")
        filtered = read_json(filter_marker(ctx.work_dir, task_id))
        state = PackState(cfg, ctx, task_id)
        state.stats.merge(Stats.from_dict(filtered["stats"]))
        state.provenance.lengths_in.update(Counter({int(k): v for k, v in filtered["lengths_in"].items()}))
        return StepPlan(
            source=PartsSource(task_dir(ctx.work_dir, task_id)), limit=None, worker=DedupAndTokenize,
            worker_args=(cfg, ctx.tokenizer_path, ctx.eos_id, ctx.token_dtype, removed_path(ctx.work_dir, task_id)),
            state=state, rejects_phase="dedup",
        )


def run_filter_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None) -> None:
    """Phase 1 of one task, then its signatures sorted into runs for the dedup buckets (own marker)."""
    run_step(cfg, ctx, task_id, FilterStep(cfg, ctx, task_id), progress)
    if not dedup_done(ctx.work_dir):  # once dedup decided, its runs are deleted and must not come back
        sort_task(dedup_dirs(cfg, ctx.work_dir), task_id, signature_files(ctx.work_dir, task_id), cfg.pipeline.dedup)


def run_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None) -> dict[str, Any]:
    """One-pass task: its share of the input -> its own range of train/val shards + a completion marker."""
    return run_step(cfg, ctx, task_id, OnePassStep(cfg, ctx, task_id), progress)


def pack_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None) -> dict[str, Any]:
    """Phase 2 of one task; its filtered parts are deleted once its shards are done (unless kept)."""
    result = run_step(cfg, ctx, task_id, DedupPackStep(cfg, ctx, task_id), progress)
    if not cfg.keep_intermediate:
        for path in part_paths(task_dir(ctx.work_dir, task_id)):
            os.remove(path)
    return result


def dedup_dirs(cfg: PrepConfig, work_dir: str) -> DedupDirs:
    return DedupDirs(os.path.join(work_dir, DEDUP_DIR), cfg.num_tasks)


def removed_path(work_dir: str, task_id: int) -> str:
    return DedupDirs(os.path.join(work_dir, DEDUP_DIR), task_id + 1).removed(task_id)


def dedup_done(work_dir: str) -> bool:
    return os.path.exists(DedupDirs(os.path.join(work_dir, DEDUP_DIR), 0).done)


def signature_files(work_dir: str, task_id: int) -> list[str]:
    return [path[: -len(".parquet")] + SIGNATURE_SUFFIX for path in part_paths(task_dir(work_dir, task_id))]


def _require_filtered(cfg: PrepConfig, work_dir: str) -> None:
    missing = [t for t in range(cfg.num_tasks) if not os.path.exists(filter_marker(work_dir, t))]
    if missing:
        raise UserError(f"cannot dedup: the filter phase of {len(missing)} of {cfg.num_tasks} tasks has not "
                        f"finished (task_id {', '.join(map(str, missing[:20]))})")


def run_dedup_step(cfg: PrepConfig, work_dir: str) -> dict[str, int]:
    """All remaining dedup work here (sort, buckets in num_workers processes, union); counts by reason."""
    if dedup_done(work_dir):
        return {}
    _require_filtered(cfg, work_dir)
    files = [signature_files(work_dir, t) for t in range(cfg.num_tasks)]
    return dedup_locally(dedup_dirs(cfg, work_dir), files, plain_config(cfg.pipeline.dedup), cfg.num_workers,
                         cfg.keep_intermediate)


def run_dedup_bucket_step(cfg: PrepConfig, work_dir: str, bucket_id: int) -> dict[str, int]:
    """One bucket (a Slurm array index); returns its group counts (empty if it was done)."""
    if dedup_done(work_dir):
        return {}
    return run_bucket(dedup_dirs(cfg, work_dir), bucket_id, plain_config(cfg.pipeline.dedup))


def run_dedup_union_step(cfg: PrepConfig, work_dir: str) -> dict[str, int]:
    return run_union(dedup_dirs(cfg, work_dir), plain_config(cfg.pipeline.dedup), cfg.keep_intermediate)


def load_task_results(work_dir: str, num_tasks: int) -> list[dict[str, Any]]:
    """Every task's completion marker (the merge step's input); one line naming the unfinished tasks."""
    missing = [t for t in range(num_tasks) if not os.path.exists(done_marker(work_dir, t))]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise UserError(f"cannot merge: {len(missing)} of {num_tasks} tasks have not finished (task_id {shown})")
    return [read_json(done_marker(work_dir, task_id)) for task_id in range(num_tasks)]
