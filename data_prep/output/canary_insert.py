"""Planting the canaries while packing: every copy goes into the TRAIN split, never val.

They are inserted after filtering and dedup (the copies of a canary are exact duplicates by design, and
the filters must not judge random strings), one canary document after every ``canaries.every`` packed
documents, the rest at the end of the task, so no copy is ever lost. Only task 0 plants them (once per
run, whatever ``num_tasks``). The order of the copies is seeded; the position in the stream is part of
the task's checkpoint, so a resumed run plants exactly the same samples.
"""

from __future__ import annotations

from typing import Any

from data_prep.config import PrepConfig
from data_prep.output.canaries import canary_documents, make_canaries, shuffled
from data_prep.output.encode import ProcessedDoc, Tokenize

COUNTER = "canaries/inserted"


class CanaryInserter:
    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str, task_id: int) -> None:
        self.every = cfg.canaries.every
        self.docs: list[ProcessedDoc] = []
        if cfg.canaries.count > 0 and task_id == 0:
            canaries = make_canaries(cfg.canaries.count, list(cfg.canaries.repeats), cfg.canaries.seed)
            copies = shuffled(canary_documents(canaries), cfg.canaries.seed)
            self.docs = Tokenize(cfg, tokenizer_path, eos_id, dtype)(copies)
            for doc in self.docs:
                doc.split = "train"  # a canary in val would measure nothing: the probe asks what was trained on
        self.seen = 0
        self.planted = 0

    def after_document(self) -> list[ProcessedDoc]:
        """Canary documents to pack after one more packed document."""
        self.seen += 1
        if self.seen % self.every or self.planted >= len(self.docs):
            return []
        self.planted += 1
        return [self.docs[self.planted - 1]]

    def remaining(self) -> list[ProcessedDoc]:
        rest = self.docs[self.planted:]
        self.planted = len(self.docs)
        return rest

    def state(self) -> dict[str, Any]:
        return {"seen": self.seen, "planted": self.planted}

    def load_state(self, state: dict[str, Any]) -> None:
        self.seen, self.planted = state["seen"], state["planted"]
