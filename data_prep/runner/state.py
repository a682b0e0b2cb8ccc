"""What each step of a task accumulates between checkpoints (``runner.task.StepState``)."""

from __future__ import annotations

import pickle
from collections import Counter
from typing import Any

from data_prep.config import PrepConfig
from data_prep.document import Stats
from data_prep.output.accounting import Provenance
from data_prep.output.canary_insert import COUNTER as CANARY_COUNTER
from data_prep.output.canary_insert import CanaryInserter
from data_prep.output.encode import ProcessedDoc
from data_prep.output.packing import Packer
from data_prep.output.shards import ShardWriter
from data_prep.runner.task import SHARDS_PER_TASK, TaskContext
from data_prep.runner.work import ChunkResult, FilterResult
from openpretrain.manifest import SPLITS, ShardInfo

PACK_STAGE = "pack"


class PackState:
    """Counters, provenance, packers and shard writers of a task that writes shards."""

    def __init__(self, cfg: PrepConfig, ctx: TaskContext, task_id: int) -> None:
        self.stats = Stats()
        self.provenance = Provenance()
        self.source_state: dict[str, Any] | None = None
        self.consumed = 0
        self.units_done = 0
        self.packers = {s: Packer(cfg.seq_len, ctx.token_dtype) for s in SPLITS}
        first = task_id * SHARDS_PER_TASK
        self.writers = {s: ShardWriter(ctx.out_dir, s, first, cfg.samples_per_shard) for s in SPLITS}
        self.canaries = CanaryInserter(cfg, ctx.tokenizer_path, ctx.eos_id, ctx.token_dtype, task_id)

    def unit(self, index: int, chunk: list) -> list:
        return chunk

    def dump(self) -> bytes:
        return pickle.dumps({
            "stats": self.stats.to_dict(), "provenance": self.provenance.to_dict(),
            "source_state": self.source_state, "consumed": self.consumed, "units_done": self.units_done,
            "packers": {s: p.state() for s, p in self.packers.items()},
            "writers": {s: w.state() for s, w in self.writers.items()},
            "canaries": self.canaries.state(),
        }, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, payload: bytes) -> None:
        data = pickle.loads(payload)
        self.stats = Stats.from_dict(data["stats"])
        self.provenance = Provenance.from_dict(data["provenance"])
        self.source_state, self.consumed = data["source_state"], data["consumed"]
        self.units_done = data.get("units_done", 0)
        for split in SPLITS:
            self.packers[split].load_state(data["packers"][split])
            self.writers[split].load_state(data["writers"][split])
        if "canaries" in data:
            self.canaries.load_state(data["canaries"])

    def absorb(self, result: ChunkResult) -> bool:
        """Pack one processed chunk in order; True (checkpoint now) when it completed at least one shard."""
        self.stats.merge(result.stats)
        self.provenance.lengths_in.update(result.lengths_in)
        wrote = False
        for doc in result.docs:
            wrote |= self._pack(doc)
            for canary in self.canaries.after_document():
                wrote |= self._plant(canary)
        return wrote

    def _pack(self, doc: ProcessedDoc) -> bool:
        self.stats.docs_written += 1
        self.provenance.add_written(doc.source, doc.license, doc.synthetic, doc.n_bytes, doc.chars, len(doc.tokens))
        wrote = False
        for tokens, meta in self.packers[doc.split].add(doc.tokens, doc.id, doc.source):
            wrote |= self.writers[doc.split].add(tokens, meta)
        return wrote

    def _plant(self, canary: ProcessedDoc) -> bool:
        """A canary copy enters the books like an input document (docs_in == written + rejected holds)."""
        self.stats.docs_in += 1
        self.stats.count(CANARY_COUNTER)
        return self._pack(canary)

    def finish(self, task_id: int) -> dict[str, Any]:
        """Write the last partial shards; the incomplete last sample of each split is dropped (counted)."""
        for canary in self.canaries.remaining():
            self._plant(canary)
        for split in SPLITS:
            self.stats.count(f"{PACK_STAGE}/tail_tokens_dropped_{split}", self.packers[split].pending_tokens)
            self.writers[split].flush()
        shards: list[ShardInfo] = [shard for split in SPLITS for shard in self.writers[split].shards]
        return {"task_id": task_id, "stats": self.stats.to_dict(), "provenance": self.provenance.to_dict(),
                "shards": [vars(s) for s in shards]}


class FilterState:
    """Counters of a filter-phase task; its parts are on disk, one per absorbed unit."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.lengths_in: Counter = Counter()
        self.source_state: dict[str, Any] | None = None
        self.consumed = 0
        self.units_done = 0
        self.kept = 0

    def unit(self, index: int, chunk: list) -> tuple[int, list]:
        return index, chunk  # the index names the unit's part file

    def dump(self) -> bytes:
        return pickle.dumps(vars(self), protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, payload: bytes) -> None:
        vars(self).update(pickle.loads(payload))

    def absorb(self, result: FilterResult) -> bool:
        self.stats.merge(result.stats)
        self.lengths_in.update(result.lengths_in)
        self.kept += result.kept
        return True  # a part was written: the checkpoint must record it before the next unit

    def finish(self, task_id: int) -> dict[str, Any]:
        return {"task_id": task_id, "stats": self.stats.to_dict(), "lengths_in": dict(self.lengths_in),
                "parts": self.units_done, "kept": self.kept}
