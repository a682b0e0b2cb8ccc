"""Turning planned samples into tensors: the Batch type and the micro-batch assembly shared by train/val."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from train.data.datasets import Dataset
from train.data.reader import SampleReader
from train.perf.loss_head import IGNORE_INDEX  # noqa: F401 - re-exported for the loader and its tests


@dataclass
class Batch:
    """One micro batch of one rank. Row i comes from global sample ``positions[i]`` (id ``sample_ids[i]``)."""

    inputs: torch.Tensor  # LongTensor [micro, T]
    targets: torch.Tensor  # LongTensor [micro, T]; IGNORE_INDEX on rows of corrupt, skipped samples
    sample_ids: list[str]
    positions: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # ids of rows masked as corrupt (data.on_corrupt=skip)
    doc_starts: list[list[int]] = field(default_factory=list)  # per row: where each document piece begins


@dataclass(frozen=True)
class PlannedSample:
    """A sample chosen by the order: which dataset, shard slot and index, and its global position."""

    dataset: int
    slot: int
    index: int
    position: int  # global sample index in the run's order (independent of world size)


class BatchAssembler:
    """Reads planned samples and stacks them into (inputs, targets), cropping rows to ``seq_len``."""

    def __init__(self, datasets: list[Dataset], readers: list[SampleReader], seq_len: int, eos_id: int):
        self.datasets, self.readers = datasets, readers
        self.seq_len, self.eos_id = seq_len, eos_id
        self.pin = torch.cuda.is_available()

    def sample_id(self, planned: PlannedSample) -> str:
        dataset = self.datasets[planned.dataset]
        return dataset.sample_id(self.readers[planned.dataset].shards[planned.slot], planned.index)

    def assemble(self, plan: list[PlannedSample]) -> Batch:
        rows = np.empty((len(plan), self.seq_len + 1), dtype=np.int64)
        masked, doc_starts = [], []
        for i, planned in enumerate(plan):
            sample = self.readers[planned.dataset].read(planned.slot, planned.index)
            if sample is None:
                rows[i] = self.eos_id
                masked.append(i)
                doc_starts.append([0])
            else:
                rows[i] = sample[0][: self.seq_len + 1]
                doc_starts.append([s for s in sample[1] if s < self.seq_len] or [0])
        table = torch.from_numpy(rows)
        inputs = table[:, :-1].contiguous()
        targets = table[:, 1:].contiguous()
        if masked:
            targets[masked] = IGNORE_INDEX
        if self.pin:
            inputs, targets = inputs.pin_memory(), targets.pin_memory()
        ids = [self.sample_id(p) for p in plan]
        return Batch(inputs=inputs, targets=targets, sample_ids=ids, positions=[p.position for p in plan],
                     skipped=[ids[i] for i in masked], doc_starts=doc_starts)
