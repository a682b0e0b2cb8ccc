"""Runs with whole-run dedup: filter (per task) -> cluster (once) -> pack (per task).

1. filter_task: each task's kept documents go to ``part-N.parquet`` with their signatures beside them.
2. ``run_dedup_step``: data_prep.dedup.cluster over every task's signature files decides which document
   ids to remove (one kept per exact group / near-duplicate cluster, the smallest id, so the result does not
   depend on the split into tasks); the decision is stored per task.
3. pack: each task reads its parts back in order, ``DedupFilter`` rejects the removed ids (counted as
   ``dedup/exact`` and ``dedup/near``), the rest is tokenized and packed exactly as in a one-pass run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from data_prep.config import PrepConfig
from data_prep.dedup import (
    SIGNATURE_SUFFIX,
    DedupFilter,
    cluster,
    load_removed,
    load_signatures,
    write_removed,
)
from data_prep.document import Document, Stats, run_stages
from data_prep.filter_task import filter_marker, load_filter_result
from data_prep.intermediate import part_paths, read_part
from data_prep.process import ChunkResult, Tokenize, new_reject_log
from data_prep.rejects import RecordingStage
from data_prep.shards import write_atomic
from data_prep.sources.base import ShareByPosition
from data_prep.task import PackPlan, TaskContext, done_marker, run_task, task_dir
from openpretrain.errors import UserError

DEDUP_DIR = "dedup"
DEDUP_MARKER = "done"


def removed_path(work_dir: str, task_id: int) -> str:
    return os.path.join(work_dir, DEDUP_DIR, f"removed-task-{task_id:05d}.tsv")


def dedup_done(work_dir: str) -> bool:
    return os.path.exists(os.path.join(work_dir, DEDUP_DIR, DEDUP_MARKER))


def signature_files(work_dir: str, task_id: int) -> list[str]:
    return [path[: -len(".parquet")] + SIGNATURE_SUFFIX for path in part_paths(task_dir(work_dir, task_id))]


def run_dedup_step(cfg: PrepConfig, work_dir: str) -> dict[str, int]:
    """Cluster the signatures of every task; write each task's removed ids. Returns counts by reason."""
    if dedup_done(work_dir):
        return {}
    missing = [t for t in range(cfg.num_tasks) if not os.path.exists(filter_marker(work_dir, t))]
    if missing:
        raise UserError(f"cannot dedup: the filter phase of {len(missing)} of {cfg.num_tasks} tasks has not "
                        f"finished (task_id {', '.join(map(str, missing[:20]))})")
    per_task = [signature_files(work_dir, t) for t in range(cfg.num_tasks)]
    removed = cluster([p for files in per_task for p in files], cfg.pipeline.dedup)
    for task_id, files in enumerate(per_task):
        ids = {str(i) for path in files for i in load_signatures(path, cfg.pipeline.dedup)["ids"]}
        write_removed(removed_path(work_dir, task_id), {k: v for k, v in removed.items() if k in ids})
    write_atomic(os.path.join(work_dir, DEDUP_DIR, DEDUP_MARKER), b"")
    return dict(Counter(removed.values()))


class PartsSource(ShareByPosition):
    """The filter phase's kept documents of one task, in order."""

    def __init__(self, folder: str) -> None:
        super().__init__("parts", 0, 1)
        self.folder = folder

    def all_records(self) -> Iterator[Document]:  # type: ignore[override]
        for path in part_paths(self.folder):
            yield from read_part(path)


class DedupAndTokenize:
    """Runs in a worker: drop removed duplicates, tokenize the rest."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str, removed: str) -> None:
        self.cfg = cfg
        self.dedup = DedupFilter(load_removed(removed))
        self.tokenize = Tokenize(cfg, tokenizer_path, eos_id, dtype)

    def __call__(self, docs: list[Document]) -> ChunkResult:
        stats, log = Stats(), new_reject_log(self.cfg)
        stage = self.dedup if log is None else RecordingStage(self.dedup, log)
        kept = list(run_stages(docs, [stage], stats))
        return ChunkResult(self.tokenize(kept), stats, rejects=log.items if log else [])


def pack_plan(cfg: PrepConfig, ctx: TaskContext, task_id: int) -> PackPlan:
    """The pack phase of one task; its counters start from the task's filter phase."""
    if not dedup_done(ctx.work_dir):
        raise UserError("cannot pack: the dedup step has not run yet (python -m data_prep ... step=dedup)")
    filtered: dict[str, Any] = load_filter_result(ctx.work_dir, task_id)
    return PackPlan(
        source=PartsSource(task_dir(ctx.work_dir, task_id)),
        processor=DedupAndTokenize,
        processor_args=(cfg, ctx.tokenizer_path, ctx.eos_id, ctx.token_dtype, removed_path(ctx.work_dir, task_id)),
        limit=None,
        initial_stats=Stats.from_dict(filtered["stats"]),
        initial_lengths_in=Counter({int(k): v for k, v in filtered["lengths_in"].items()}),
        rejects_phase="dedup",
    )


def pack_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None) -> dict[str, Any]:
    """Phase 2 of one task; its filtered parts are deleted once its shards are done (unless kept)."""
    marker = done_marker(ctx.work_dir, task_id)
    result = run_task(cfg, ctx, task_id, progress, None if os.path.exists(marker) else pack_plan(cfg, ctx, task_id))
    if not cfg.keep_intermediate:
        for path in part_paths(task_dir(ctx.work_dir, task_id)):
            os.remove(path)
    return result
