"""Contract 3: the training stream of one rank, addressed by one global position per dataset.

The run's order is a single global sequence of samples (``Mixture`` picks the dataset, ``EpochOrder`` the
sample), independent of the number of ranks. A global batch is the next ``micro × accum × world_size``
samples of that sequence; rank r reads the contiguous slice ``[r·micro·accum, (r+1)·micro·accum)`` of it,
``micro`` rows per micro step. The state is the samples consumed per dataset after the last global batch
fully handed out, so a run can resume on any number of ranks with nothing repeated or skipped, and a
resume only computes where to read: no earlier sample is touched.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from openpretrain.errors import UserError
from train.config import OnCorrupt, TrainConfig
from train.data.batches import Batch, BatchAssembler, PlannedSample
from train.data.datasets import DataInfo, Dataset, data_info
from train.data.order import EpochOrder, Mixture
from train.data.reader import SampleReader

if TYPE_CHECKING:
    from train.objectives.objective import Objective

STATE_VERSION = 1

log = logging.getLogger(__name__)


class TrainData:
    """Iterate to get this rank's micro batches forever (epochs roll over); checkpoint with state_dict()."""

    def __init__(self, cfg: TrainConfig, rank: int, world_size: int, datasets: list[Dataset], seq_len: int,
                 eos_id: int, objective: Objective):
        self.cfg, self.rank, self.world_size = cfg, rank, world_size
        self.datasets = [d for d in datasets if d.shards("train")]
        if not self.datasets:
            raise UserError("no training shards in " + ", ".join(d.manifest.root for d in datasets))
        skip = cfg.data.on_corrupt == OnCorrupt.skip
        self.readers = [SampleReader(d, "train", skip) for d in self.datasets]
        self.orders = [
            EpochOrder([s.samples for s in d.shards("train")], cfg.seed, d.fingerprint("train"), cfg.data.shuffle,
                       cfg.data.shuffle_block_shards)
            for d in self.datasets
        ]
        self.mixture = Mixture([d.weight for d in self.datasets])
        self.assembler = BatchAssembler(self.datasets, self.readers, seq_len, eos_id, objective)
        self.micro, self.accum = cfg.micro_batch_size, cfg.grad_accum_steps
        self.global_batch_size = self.micro * self.accum * world_size
        self._pool = ThreadPoolExecutor(cfg.data.num_workers, thread_name_prefix="data") \
            if cfg.data.num_workers > 0 else None
        self._ids_log = _open_ids_log(cfg, rank)
        self._reset([0] * len(self.datasets))

    # -- iteration -------------------------------------------------------------------------------------
    def __iter__(self) -> TrainData:
        return self

    def __next__(self) -> Batch:
        self._fill()
        pending, counts_after = self._pending.popleft()
        batch = pending.result() if isinstance(pending, Future) else self.assembler.assemble(pending)
        if counts_after is not None:  # the last micro batch of a global batch: it is now consumed
            self._consumed = counts_after
        if self._ids_log is not None:
            record = {"positions": batch.positions, "ids": batch.sample_ids, "skipped": batch.skipped}
            self._ids_log.write(json.dumps(record) + "\n")
            self._ids_log.flush()
        return batch

    def _reset(self, consumed: list[int]) -> None:
        for pending, _ in getattr(self, "_pending", ()):
            if isinstance(pending, Future):
                pending.cancel()
        self._consumed = list(consumed)
        self._planned = list(consumed)
        self._pending: deque[tuple[Any, list[int] | None]] = deque()

    def _fill(self) -> None:
        while len(self._pending) < max(self.cfg.data.prefetch, 1) or not self._pending:
            for plan, counts_after in self._plan_global_batch():
                work = self._pool.submit(self.assembler.assemble, plan) if self._pool else plan
                self._pending.append((work, counts_after))

    def _plan_global_batch(self) -> list[tuple[list[PlannedSample], list[int] | None]]:
        """This rank's micro batches of the next global batch; the last one carries the counts after it."""
        start = sum(self._planned)
        draws, counts_after = self.mixture.draw(self._planned, self.global_batch_size)
        self._planned = counts_after
        per_rank = self.micro * self.accum
        mine = range(self.rank * per_rank, (self.rank + 1) * per_rank)
        planned = []
        for i in mine:
            d, pos = draws[i]
            slot, index = self.orders[d].locate(pos)
            planned.append(PlannedSample(d, slot, index, start + i))
        micro_batches = [planned[k:k + self.micro] for k in range(0, per_rank, self.micro)]
        return [(mb, counts_after if k == len(micro_batches) - 1 else None) for k, mb in enumerate(micro_batches)]

    # -- position --------------------------------------------------------------------------------------
    @property
    def skipped_corrupt(self) -> int:
        """Corrupt samples this rank has skipped since it started (a metric, not part of the position)."""
        return sum(r.skipped for r in self.readers)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable position: samples consumed per dataset up to the last completed global batch."""
        return {
            "version": STATE_VERSION,
            "global_samples": sum(self._consumed),
            "seed": self.cfg.seed,
            "shuffle": self.cfg.data.shuffle,
            "shuffle_block_shards": self.cfg.data.shuffle_block_shards,
            "datasets": [
                {"name": d.label, "fingerprint": d.fingerprint("train"), "consumed": c,
                 "epoch": c // o.samples_per_epoch, "samples_per_epoch": o.samples_per_epoch,
                 "weight": float(w), "weight_since": int(a)}
                for d, o, c, w, a in zip(self.datasets, self.orders, self._consumed, self.mixture.weights,
                                         self.mixture.anchor)
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Seek to a saved position (from any world size); the order itself must be unchanged."""
        _check_compatible(self, state)
        saved = _match_datasets(self.datasets, state["datasets"], self.cfg.data.allow_dropped_datasets)
        consumed = [int(entry["consumed"]) if entry else 0 for entry in saved]  # a dataset new to the mix starts at 0
        same_weights = all(e is not None and abs(e.get("weight", -1.0) - w) < 1e-9
                           for e, w in zip(saved, self.mixture.weights))
        if not same_weights:
            log.info("data mixture changed since the checkpoint: the new weights apply from global sample %d on",
                     sum(consumed))
        anchor = [int(e.get("weight_since", 0)) for e in saved] if same_weights else consumed
        self.mixture = Mixture(self.mixture.weights, anchor)
        self._reset(consumed)

    def advance(self, global_batches: int) -> None:
        """Skip whole global batches without reading them (e.g. the batches behind a loss spike)."""
        _, counts = self.mixture.draw(self._consumed, global_batches * self.global_batch_size)
        self._reset(counts)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"data/global_samples": sum(self._consumed),
                                 "data/skipped_corrupt": self.skipped_corrupt}
        for d, o, c in zip(self.datasets, self.orders, self._consumed):
            out[f"data/{d.label}/samples"] = c
            out[f"data/{d.label}/epoch"] = c / o.samples_per_epoch
        return out

    def close(self) -> None:
        self._reset(self._consumed)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._ids_log is not None:
            self._ids_log.close()
            self._ids_log = None

    def __enter__(self) -> TrainData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_compatible(data: TrainData, state: dict[str, Any]) -> None:
    if state.get("version") != STATE_VERSION:
        raise UserError(f"data state version {state.get('version')!r} is not supported (expected {STATE_VERSION})")
    for key, now in (("seed", data.cfg.seed), ("shuffle", data.cfg.data.shuffle),
                     ("shuffle_block_shards", data.cfg.data.shuffle_block_shards)):
        if state.get(key) != now:
            raise UserError(f"cannot resume: the checkpoint's data order used {key}={state.get(key)!r}, "
                            f"this run has {now!r}; resuming would repeat or skip samples")
    saved = _match_datasets(data.datasets, state["datasets"], data.cfg.data.allow_dropped_datasets)
    for dataset, order, entry in zip(data.datasets, data.orders, saved):
        if entry is not None and entry["samples_per_epoch"] != order.samples_per_epoch:
            raise UserError(f"cannot resume: dataset {dataset.label} has {order.samples_per_epoch} training "
                            f"samples, the checkpoint's had {entry['samples_per_epoch']} (the prepared data changed)")


def _match_datasets(datasets: list[Dataset], saved: list[dict[str, Any]],
                    allow_dropped: bool = False) -> list[dict[str, Any] | None]:
    """The checkpoint entry of each dataset: by name, else by content fingerprint (a moved directory).

    A dataset the checkpoint does not know is new to the mix (a continued run gaining data): None, it
    starts at sample 0. A checkpoint dataset missing from this run is refused (its position would be lost)
    unless ``data.allow_dropped_datasets`` says it left the mix on purpose.
    """
    by_name = {e["name"]: e for e in saved}
    by_print = {e.get("fingerprint"): e for e in saved}
    matched = [by_name.get(d.label) or by_print.get(d.fingerprint("train")) for d in datasets]
    found = [m for m in matched if m is not None]
    dropped = len(found) != len(saved)
    if dropped and allow_dropped is True and len({id(m) for m in found}) == len(found):
        log.info("datasets of the checkpoint left the mix (data.allow_dropped_datasets): %s",
                 sorted(set(by_name) - {m["name"] for m in found}))
        return matched
    if len({id(m) for m in found}) != len(found) or dropped:
        raise UserError(f"cannot resume: the checkpoint's datasets {sorted(by_name)} are not all in this run's "
                        f"{sorted(d.label for d in datasets)} (name them with data.mix[i].name to match)")
    return matched


def _open_ids_log(cfg: TrainConfig, rank: int):
    """With data.log_sample_ids: one jsonl per rank of every micro batch handed out (coverage tests)."""
    if not cfg.data.log_sample_ids:
        return None
    directory = os.path.join(cfg.run_dir, "sample_ids")
    os.makedirs(directory, exist_ok=True)
    return open(os.path.join(directory, f"rank{rank:05d}.jsonl"), "a", encoding="utf-8")


def _objective(cfg: TrainConfig, objective: Objective | None, info: DataInfo) -> Objective:
    from train.objectives.build import run_objective

    return objective if objective is not None else run_objective(cfg, info)


def build_train_data(cfg: TrainConfig, rank: int, world_size: int, objective: Objective | None = None,
                     info: DataInfo | None = None) -> TrainData:
    """This rank's training stream; ``objective`` None = the one ``cfg.objective`` names; ``info`` None =
    read the manifests now (a trainer passes the ``data_info`` it already has: one read per process)."""
    info = info if info is not None else data_info(cfg)
    return TrainData(cfg, rank, world_size, info.datasets, info.seq_len, info.eos_id,
                     _objective(cfg, objective, info))


def build_val_batches(cfg: TrainConfig, rank: int, world_size: int, objective: Objective | None = None,
                      info: DataInfo | None = None) -> list[Batch]:
    """The first ``eval_batches`` global val batches (``micro × world_size`` samples), this rank's slice.

    Val splits are read in shard order, interleaved by the mixture weights; a val split smaller than one
    global batch wraps around so every rank still gets a full batch. ``info`` as for ``build_train_data``.
    """
    info = info if info is not None else data_info(cfg)
    datasets = [d for d in info.datasets if d.shards("val")]
    if not datasets or cfg.eval_batches == 0:
        return []
    skip = cfg.data.on_corrupt == OnCorrupt.skip
    readers = [SampleReader(d, "val", skip) for d in datasets]
    orders = [EpochOrder([s.samples for s in d.shards("val")], cfg.seed, d.label, False, 1) for d in datasets]
    assembler = BatchAssembler(datasets, readers, info.seq_len, info.eos_id, _objective(cfg, objective, info),
                               val=True)
    per_batch = cfg.micro_batch_size * world_size
    available = sum(o.samples_per_epoch for o in orders)
    n_batches = min(cfg.eval_batches, max(1, available // per_batch))
    draws, _ = Mixture([d.weight for d in datasets]).draw([0] * len(datasets), n_batches * per_batch)
    batches = []
    for b in range(n_batches):
        start = b * per_batch + rank * cfg.micro_batch_size
        plan = [PlannedSample(d, *orders[d].locate(pos), start + i)
                for i, (d, pos) in enumerate(draws[start:start + cfg.micro_batch_size])]
        batches.append(assembler.assemble(plan))
    return batches
