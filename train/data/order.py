"""The training order as a pure function of (manifests, mixture weights, seed, epoch).

Two position-addressable pieces, so that resuming is a computation, never a replay:

* ``EpochOrder`` maps "the p-th sample drawn from one dataset" to (shard, index). Each epoch permutes the
  shards, groups them into blocks of ``block_shards`` and permutes the samples inside each block (seeded by
  seed, dataset, epoch, block). Memory stays O(shards + block size) however large the dataset is, and
  reads stay local to a few open shards.
* ``Mixture`` decides which dataset the n-th global sample comes from: the one furthest behind its
  weighted share (a deterministic smooth weighted round-robin). The choice depends only on the samples
  consumed per dataset, i.e. on the data state itself, so any state can be continued exactly.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

_CACHED_BLOCKS = 4  # block permutations kept (reads move through blocks in order)


class EpochOrder:
    """Position (samples consumed from this dataset, across epochs) → (shard slot, sample index)."""

    def __init__(self, shard_sizes: Sequence[int], seed: int, identity: str, shuffle: bool, block_shards: int):
        """``identity`` names the content (a fingerprint), so each dataset of a mix gets its own order."""
        self.sizes = np.asarray(shard_sizes, dtype=np.int64)
        self.samples_per_epoch = int(self.sizes.sum())
        self.seed, self.salt = seed, zlib.crc32(identity.encode("utf-8"))
        self.shuffle, self.block_shards = shuffle, max(1, block_shards)
        self._epoch: int | None = None
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def locate(self, position: int) -> tuple[int, int]:
        """The shard slot (index in the split's shard list) and sample index read at ``position``."""
        if self.samples_per_epoch == 0:
            raise IndexError("dataset split has no samples")
        epoch, offset = divmod(position, self.samples_per_epoch)
        self._prepare_epoch(epoch)
        block = int(np.searchsorted(self._block_starts, offset, side="right")) - 1
        local = offset - int(self._block_starts[block])
        shards = self._shard_perm[block * self.block_shards:(block + 1) * self.block_shards]
        within = int(self._block_permutation(epoch, block, local_size=self._block_sizes[block])[local])
        starts = np.concatenate(([0], np.cumsum(self.sizes[shards])))
        slot = int(np.searchsorted(starts, within, side="right")) - 1
        return int(shards[slot]), within - int(starts[slot])

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.salt, *keys])

    def _prepare_epoch(self, epoch: int) -> None:
        if epoch == self._epoch:
            return
        n = len(self.sizes)
        self._shard_perm = self._rng(epoch).permutation(n) if self.shuffle else np.arange(n)
        k = self.block_shards
        self._block_sizes = [int(self.sizes[self._shard_perm[i:i + k]].sum()) for i in range(0, n, k)]
        self._block_starts = np.concatenate(([0], np.cumsum(self._block_sizes)[:-1]))
        self._epoch = epoch

    def _block_permutation(self, epoch: int, block: int, local_size: int) -> np.ndarray:
        key = (epoch, block)
        perm = self._blocks.get(key)
        if perm is None:
            perm = self._rng(epoch, block + 1).permutation(local_size) if self.shuffle else np.arange(local_size)
            self._blocks[key] = perm
            if len(self._blocks) > _CACHED_BLOCKS:
                self._blocks.popitem(last=False)
        return perm


class Mixture:
    """Which dataset each global sample comes from, given the samples consumed so far per dataset.

    Shares count from ``anchor`` (the counts when these weights took effect): a run resumed with new weights
    follows them from the resume point on, instead of bursting one dataset to make up for the past.
    """

    def __init__(self, weights: Sequence[float], anchor: Sequence[int] | None = None):
        total = float(sum(weights))
        self.weights = np.asarray([w / total for w in weights], dtype=np.float64)
        self.anchor = np.asarray(anchor if anchor is not None else [0] * len(weights), dtype=np.float64)

    def choose(self, consumed: Sequence[int]) -> int:
        """The dataset furthest behind its share after one more sample; ties go to the first."""
        since = np.asarray(consumed, dtype=np.float64) - self.anchor
        deficit = self.weights * (since.sum() + 1) - since
        return int(np.argmax(deficit))

    def draw(self, consumed: Sequence[int], count: int) -> tuple[list[tuple[int, int]], list[int]]:
        """The next ``count`` draws as (dataset, position in that dataset), and the counts after them."""
        counts = list(consumed)
        draws = []
        for _ in range(count):
            d = self.choose(counts) if len(counts) > 1 else 0
            draws.append((d, counts[d]))
            counts[d] += 1
        return draws, counts
