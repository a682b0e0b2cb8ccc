"""The one resumable task loop: a step of one task -> its outputs + a completion marker.

Both phases of a run use it (datatrove's executor is the model): a step names what it reads (this task's
share of a source), the unit of work its workers run, and the state it keeps. ``run_step`` feeds chunks of
``chunk_docs`` records to ``num_workers`` processes, absorbs the results in input order, saves the state
atomically after units (every unit, or after one that completed a shard and at least every
``checkpoint_every_s``) and writes the completion marker at the end. A rerun after a crash restores the
state and continues; a step whose marker exists is not run again. Outputs are deterministic, so a shard
re-created after a crash has the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from data_prep.config import PrepConfig
from data_prep.output.rejects import rejects_dir, remove_rejects_from, write_rejects
from data_prep.output.shards import write_atomic
from data_prep.runner.parallel import ordered_map
from openpretrain.manifest import SPLITS

# Task t owns shard indices [t * SHARDS_PER_TASK, (t + 1) * SHARDS_PER_TASK): unique across machines
# without coordination. One task would need more than 10^5 shards (~10^11 tokens) to collide.
SHARDS_PER_TASK = 100_000
SHARD_TEMP = re.compile(r"shard-(\d+)\.(?:tar|idx)\.tmp\d+")  # see shards.write_atomic


@dataclass
class TaskContext:
    out_dir: str
    work_dir: str
    tokenizer_path: str
    eos_id: int
    token_dtype: str


class StepState(Protocol):
    """What a step accumulates; saved as one pickle so a checkpoint is a single atomic rename."""

    source_state: dict[str, Any] | None  # the source position after the last absorbed unit
    consumed: int  # records of this task's share consumed so far
    units_done: int

    def unit(self, index: int, chunk: list) -> Any:
        """What the worker gets for the ``index``-th chunk of this step."""

    def absorb(self, result: Any) -> bool:
        """Take one unit's result in input order; True when a checkpoint should be saved now."""

    def dump(self) -> bytes: ...

    def load(self, payload: bytes) -> None: ...

    def finish(self, task_id: int) -> dict[str, Any]:
        """Complete the step; return its result (the completion marker's content)."""


@dataclass
class StepPlan:
    """Where a step reads from, what its workers run, and its fresh state."""

    source: Any  # data_prep.sources.Source
    limit: int | None  # records of this task's share to read (None: all)
    worker: Callable[..., Callable[[Any], Any]]  # built once per worker process from worker_args
    worker_args: tuple
    state: StepState
    rejects_phase: str  # OUT/rejects/<phase>/... (with rejects=true)


class TaskStep(Protocol):
    marker_name: str  # completion marker in the task folder
    checkpoint_name: str

    def plan(self) -> StepPlan:
        """Called only when the step still has work (its marker is absent)."""


def task_dir(work_dir: str, task_id: int) -> str:
    return os.path.join(work_dir, f"task-{task_id:05d}")


def read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def task_limit(max_docs: int | None, task_id: int, num_tasks: int) -> int | None:
    """This task's share of a global ``max_docs``: positions p < max_docs with p % num_tasks == task_id."""
    if max_docs is None:
        return None
    return max(0, (max_docs - task_id + num_tasks - 1) // num_tasks)


def remove_stale_temps(out_dir: str, work_dir: str, task_id: int) -> None:
    """Delete temporary files an interrupted run of this task left (its own shard range and folder only)."""
    owned = range(task_id * SHARDS_PER_TASK, (task_id + 1) * SHARDS_PER_TASK)
    for split in SPLITS:
        folder = os.path.join(out_dir, split)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            match = SHARD_TEMP.fullmatch(name)
            if match and int(match.group(1)) in owned:
                os.remove(os.path.join(folder, name))
    folder = task_dir(work_dir, task_id)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if ".tmp" in name:
            os.remove(os.path.join(folder, name))


def chunked(records: Iterable[Any], size: int, start: int, limit: int | None,
            source: Any) -> Iterator[tuple[list, dict[str, Any], int]]:
    """Yield (chunk, source position after it, records consumed after it); stops at this task's limit."""
    chunk, consumed = [], start
    for record in records:
        chunk.append(record)
        consumed += 1
        if len(chunk) == size or consumed == limit:
            yield chunk, source.state(), consumed
            chunk = []
            if consumed == limit:
                return
    if chunk:
        yield chunk, source.state(), consumed


def run_step(cfg: PrepConfig, ctx: TaskContext, task_id: int, step: TaskStep, progress: Any = None) -> dict[str, Any]:
    """Run (or finish) one step of task ``task_id``; return its result (also its completion marker)."""
    folder = task_dir(ctx.work_dir, task_id)
    marker = os.path.join(folder, step.marker_name)
    if os.path.exists(marker):
        return read_json(marker)
    plan = step.plan()
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(ctx.out_dir, ctx.work_dir, task_id)
    checkpoint = os.path.join(folder, step.checkpoint_name)
    state = plan.state
    if os.path.exists(checkpoint):
        with open(checkpoint, "rb") as fh:
            state.load(fh.read())
    if progress is not None:
        progress.update(state.consumed)
    rejects_folder = rejects_dir(ctx.out_dir, plan.rejects_phase, task_id)
    remove_rejects_from(rejects_folder, state.consumed)
    if plan.limit is None or state.consumed < plan.limit:
        _process(cfg, plan, checkpoint, progress, rejects_folder)
    result = state.finish(task_id)
    write_atomic(marker, json.dumps(result, indent=1).encode("utf-8"))
    if os.path.exists(checkpoint):
        os.remove(checkpoint)  # the marker supersedes it
    return result


def _process(cfg: PrepConfig, plan: StepPlan, checkpoint: str, progress: Any, rejects_folder: str) -> None:
    state = plan.state
    records = plan.source.records(state.source_state)
    positions: deque = deque()

    def units() -> Iterator[Any]:
        chunks = chunked(records, cfg.chunk_docs, state.consumed, plan.limit, plan.source)
        for index, (chunk, source_state, consumed) in enumerate(chunks, start=state.units_done):
            positions.append((source_state, consumed))
            yield state.unit(index, chunk)

    last_save = time.monotonic()
    for result in ordered_map(plan.worker, plan.worker_args, units(), cfg.num_workers):
        start = state.consumed
        state.source_state, state.consumed = positions.popleft()
        write_rejects(rejects_folder, start, result.rejects)
        save_now = state.absorb(result)
        state.units_done += 1
        if progress is not None:
            progress.update(result.handled)
        if save_now or time.monotonic() - last_save >= cfg.checkpoint_every_s:
            write_atomic(checkpoint, state.dump())
            last_save = time.monotonic()
