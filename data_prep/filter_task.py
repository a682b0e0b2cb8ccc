"""Phase 1 of a run with whole-run dedup: one task's input -> kept documents + their dedup signatures.

Each unit of work (``chunk_docs`` records) becomes ``part-NNNNNN.parquet`` (the kept documents) and
``part-NNNNNN.minhash.npz`` (their exact hashes and MinHash band keys, data_prep.dedup), written by the
worker that filtered it. The task checkpoints after every unit, so a killed task resumes at the next one.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from data_prep.config import PrepConfig
from data_prep.dedup.signatures import SIGNATURE_SUFFIX, SignatureWriter
from data_prep.document import Stats
from data_prep.intermediate import PART_SUFFIX, part_stem, write_part
from data_prep.parallel import ordered_map
from data_prep.process import build_doc_stages, filter_records, new_reject_log
from data_prep.rejects import rejects_dir, remove_rejects_from, write_rejects
from data_prep.shards import write_atomic
from data_prep.sources import RawRecord, build_source
from data_prep.task import TaskContext, chunked, remove_stale_temps, task_dir, task_limit

FILTER_MARKER = "filter-done.json"
FILTER_CHECKPOINT = "filter-state.pkl"


@dataclass
class FilterResult:
    kept: int
    stats: Stats
    lengths_in: Counter
    rejects: list[dict]


class FilterProcessor:
    """Runs in a worker: filter one unit, write its part and its signatures."""

    def __init__(self, cfg: PrepConfig, folder: str) -> None:
        self.cfg = cfg
        self.folder = folder
        self.stages = build_doc_stages(cfg)

    def __call__(self, unit: tuple[int, list[RawRecord]]) -> FilterResult:
        index, records = unit
        stats, lengths_in, log = Stats(), Counter(), new_reject_log(self.cfg)
        docs = filter_records(records, self.cfg, self.stages, stats, lengths_in, log)
        stem = part_stem(self.folder, index)
        with SignatureWriter(stem + SIGNATURE_SUFFIX, self.cfg.pipeline.dedup) as signatures:
            for doc in docs:
                signatures.add(doc)
        write_part(stem + PART_SUFFIX, docs)  # last: a part implies its signatures exist
        return FilterResult(len(docs), stats, lengths_in, log.items if log else [])


def filter_marker(work_dir: str, task_id: int) -> str:
    return os.path.join(task_dir(work_dir, task_id), FILTER_MARKER)


def load_filter_result(work_dir: str, task_id: int) -> dict[str, Any]:
    with open(filter_marker(work_dir, task_id), encoding="utf-8") as fh:
        return json.load(fh)


def run_filter_task(cfg: PrepConfig, ctx: TaskContext, task_id: int, progress: Any = None) -> None:
    marker = filter_marker(ctx.work_dir, task_id)
    if os.path.exists(marker):
        return
    folder = task_dir(ctx.work_dir, task_id)
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(ctx, task_id)
    checkpoint = os.path.join(folder, FILTER_CHECKPOINT)
    state: dict[str, Any] = {"stats": Stats().to_dict(), "lengths_in": Counter(), "source_state": None,
                             "consumed": 0, "next_index": 0, "kept": 0}
    if os.path.exists(checkpoint):
        with open(checkpoint, "rb") as fh:
            state = pickle.load(fh)
    if progress is not None:
        progress.update(state["consumed"])
    limit = task_limit(cfg.max_docs, task_id, cfg.num_tasks)
    rejects_folder = rejects_dir(ctx.out_dir, "filter", task_id)
    remove_rejects_from(rejects_folder, state["consumed"])
    if limit is None or state["consumed"] < limit:
        _filter(cfg, folder, task_id, state, limit, checkpoint, progress, rejects_folder)
    result = {"task_id": task_id, "stats": state["stats"], "lengths_in": dict(state["lengths_in"]),
              "parts": state["next_index"], "kept": state["kept"]}
    write_atomic(marker, json.dumps(result, indent=1).encode("utf-8"))
    if os.path.exists(checkpoint):
        os.remove(checkpoint)


def _filter(cfg: PrepConfig, folder: str, task_id: int, state: dict[str, Any], limit: int | None,
            checkpoint: str, progress: Any, rejects_folder: str) -> None:
    source = build_source(cfg.source, task_id, cfg.num_tasks)
    positions: deque = deque()

    def units():
        index = state["next_index"]
        for chunk, source_state, consumed in chunked(source.records(state["source_state"]), cfg.chunk_docs,
                                                     state["consumed"], limit, source):
            positions.append((source_state, consumed))
            yield index, chunk
            index += 1

    stats = Stats.from_dict(state["stats"])
    for result in ordered_map(FilterProcessor, (cfg, folder), units(), cfg.num_workers):
        write_rejects(rejects_folder, state["consumed"], result.rejects)
        state["source_state"], state["consumed"] = positions.popleft()
        stats.merge(result.stats)
        state["stats"] = stats.to_dict()
        state["lengths_in"].update(result.lengths_in)
        state["kept"] += result.kept
        state["next_index"] += 1
        write_atomic(checkpoint, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
        if progress is not None:
            progress.update(result.kept + result.stats.total_rejected)
