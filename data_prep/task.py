"""One task: its share of the input -> its own range of train/val shards + a completion marker.

Resumable at any moment. After every unit of work that completed a shard (and at least every
``checkpoint_every_s``), the task's whole state (source position, packers, samples waiting for the next
shard, counters) is saved atomically; a rerun restores it and continues. Shards are deterministic, so a shard re-created after a crash has the same bytes.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data_prep.accounting import Provenance
from data_prep.config import PrepConfig
from data_prep.document import Stats
from data_prep.packing import Packer
from data_prep.parallel import ordered_map
from data_prep.process import ChunkProcessor, ChunkResult
from data_prep.rejects import rejects_dir, remove_rejects_from, write_rejects
from data_prep.shards import ShardWriter, write_atomic
from data_prep.sources import build_source
from openpretrain.manifest import SPLITS, ShardInfo

# Task t owns shard indices [t * SHARDS_PER_TASK, (t + 1) * SHARDS_PER_TASK): unique across machines
# without coordination. One task would need more than 10^5 shards (~10^11 tokens) to collide.
SHARDS_PER_TASK = 100_000
PACK_STAGE = "pack"
SHARD_TEMP = re.compile(r"shard-(\d+)\.tar\.tmp\d+")  # see shards.write_atomic


@dataclass
class TaskContext:
    out_dir: str
    work_dir: str
    tokenizer_path: str
    eos_id: int
    token_dtype: str


def task_dir(work_dir: str, task_id: int) -> str:
    return os.path.join(work_dir, f"task-{task_id:05d}")


def done_marker(work_dir: str, task_id: int) -> str:
    return os.path.join(task_dir(work_dir, task_id), "done.json")


def remove_stale_temps(ctx: TaskContext, task_id: int) -> None:
    """Delete temporary files an interrupted run of this task left (its own shard range and folder only)."""
    owned = range(task_id * SHARDS_PER_TASK, (task_id + 1) * SHARDS_PER_TASK)
    for split in SPLITS:
        folder = os.path.join(ctx.out_dir, split)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            match = SHARD_TEMP.fullmatch(name)
            if match and int(match.group(1)) in owned:
                os.remove(os.path.join(folder, name))
    folder = task_dir(ctx.work_dir, task_id)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if ".tmp" in name:
            os.remove(os.path.join(folder, name))


def task_limit(max_docs: int | None, task_id: int, num_tasks: int) -> int | None:
    """This task's share of a global ``max_docs``: positions p < max_docs with p % num_tasks == task_id."""
    if max_docs is None:
        return None
    return max(0, (max_docs - task_id + num_tasks - 1) // num_tasks)


class TaskState:
    """Everything a task accumulates; saved as one pickle so a checkpoint is a single atomic rename."""

    def __init__(self, cfg: PrepConfig, ctx: TaskContext, task_id: int) -> None:
        self.stats = Stats()
        self.provenance = Provenance()
        self.source_state: dict[str, Any] | None = None
        self.consumed = 0
        self.packers = {s: Packer(cfg.seq_len, ctx.token_dtype) for s in SPLITS}
        first = task_id * SHARDS_PER_TASK
        self.writers = {s: ShardWriter(ctx.out_dir, s, first, cfg.samples_per_shard) for s in SPLITS}

    def to_pickle(self) -> bytes:
        return pickle.dumps({
            "stats": self.stats.to_dict(), "provenance": self.provenance.to_dict(),
            "source_state": self.source_state, "consumed": self.consumed,
            "packers": {s: p.state() for s, p in self.packers.items()},
            "writers": {s: w.state() for s, w in self.writers.items()},
        }, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, payload: bytes) -> None:
        data = pickle.loads(payload)
        self.stats = Stats.from_dict(data["stats"])
        self.provenance = Provenance.from_dict(data["provenance"])
        self.source_state, self.consumed = data["source_state"], data["consumed"]
        for split in SPLITS:
            self.packers[split].load_state(data["packers"][split])
            self.writers[split].load_state(data["writers"][split])

    def absorb(self, result: ChunkResult) -> bool:
        """Pack one processed chunk in order; True when it completed at least one shard."""
        self.stats.merge(result.stats)
        self.provenance.lengths_in.update(result.lengths_in)
        wrote = False
        for doc in result.docs:
            self.stats.docs_written += 1
            self.provenance.add_written(doc.source, doc.license, doc.synthetic, doc.n_bytes, doc.chars,
                                        len(doc.tokens))
            for tokens, meta in self.packers[doc.split].add(doc.tokens, doc.id, doc.source):
                wrote |= self.writers[doc.split].add(tokens, meta)
        return wrote

    def finish(self) -> list[ShardInfo]:
        """Write the last partial shards; the incomplete last sample of each split is dropped (counted)."""
        for split in SPLITS:
            self.stats.count(f"{PACK_STAGE}/tail_tokens_dropped_{split}", self.packers[split].pending_tokens)
            self.writers[split].flush()
        return [shard for split in SPLITS for shard in self.writers[split].shards]


def chunked(records, size: int, start: int, limit: int | None, source):
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


@dataclass
class PackPlan:
    """Where a packing task reads from and how each unit is processed.

    One pass: the raw input through ChunkProcessor. After whole-run dedup: the filter phase's parts
    through a processor that drops duplicates; the counters of the filter phase are the starting point.
    """

    source: Any
    processor: Callable[..., Callable[[list], ChunkResult]]
    processor_args: tuple
    limit: int | None
    initial_stats: Stats | None = None
    initial_lengths_in: Counter | None = None
    rejects_phase: str = "filter"  # OUT/rejects/<phase>/... (with rejects=true)


def one_pass_plan(cfg: PrepConfig, ctx: TaskContext, task_id: int) -> PackPlan:
    return PackPlan(
        source=build_source(cfg.source, task_id, cfg.num_tasks),
        processor=ChunkProcessor,
        processor_args=(cfg, ctx.tokenizer_path, ctx.eos_id, ctx.token_dtype),
        limit=task_limit(cfg.max_docs, task_id, cfg.num_tasks),
    )


def run_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None,
             plan: PackPlan | None = None) -> dict[str, Any]:
    """Run (or finish) task ``task_id``; return its result (also written as the completion marker)."""
    marker = done_marker(ctx.work_dir, task_id)
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as fh:
            return json.load(fh)
    plan = plan or one_pass_plan(cfg, ctx, task_id)
    os.makedirs(task_dir(ctx.work_dir, task_id), exist_ok=True)
    remove_stale_temps(ctx, task_id)
    checkpoint = os.path.join(task_dir(ctx.work_dir, task_id), "state.pkl")
    state = TaskState(cfg, ctx, task_id)
    if os.path.exists(checkpoint):
        with open(checkpoint, "rb") as fh:
            state.load(fh.read())
    else:
        state.stats.merge(plan.initial_stats or Stats())
        state.provenance.lengths_in.update(plan.initial_lengths_in or Counter())
    if progress is not None:
        progress.update(state.consumed)
    rejects_folder = rejects_dir(ctx.out_dir, plan.rejects_phase, task_id)
    remove_rejects_from(rejects_folder, state.consumed)
    if plan.limit is None or state.consumed < plan.limit:
        _process(cfg, plan, state, checkpoint, progress, rejects_folder)
    shards = state.finish()
    result = {"task_id": task_id, "stats": state.stats.to_dict(), "provenance": state.provenance.to_dict(),
              "shards": [vars(s) for s in shards]}
    write_atomic(marker, json.dumps(result, indent=1).encode("utf-8"))
    if os.path.exists(checkpoint):
        os.remove(checkpoint)  # the marker supersedes it
    return result


def _process(cfg: PrepConfig, plan: PackPlan, state: TaskState, checkpoint: str, progress: Any,
             rejects_folder: str) -> None:
    records = plan.source.records(state.source_state)
    positions: deque = deque()

    def units():
        for chunk, source_state, consumed in chunked(records, cfg.chunk_docs, state.consumed, plan.limit,
                                                     plan.source):
            positions.append((source_state, consumed))
            yield chunk

    last_save = time.monotonic()
    for result in ordered_map(plan.processor, plan.processor_args, units(), cfg.num_workers):
        start = state.consumed
        state.source_state, state.consumed = positions.popleft()
        write_rejects(rejects_folder, start, result.rejects)
        wrote = state.absorb(result)
        if progress is not None:
            progress.update(len(result.docs) + result.stats.total_rejected)
        if wrote or time.monotonic() - last_save >= cfg.checkpoint_every_s:
            write_atomic(checkpoint, state.to_pickle())
            last_save = time.monotonic()
