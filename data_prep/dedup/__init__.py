"""Whole-run deduplication, the step between the two phases of a run (exact + MinHash-LSH near dedup).

1. Filter phase, per task: ``data_prep.stages.dedup_signature.SignatureWriter`` stores each kept
   document's signature next to the task's parts (``data_prep.dedup.parts``).
2. Once (one machine): ``cluster`` over every task's signature files decides which ids to remove (each exact
   group and near-duplicate cluster keeps its smallest id); ``write_removed`` stores the decision per task.
3. Pack phase, per task: ``DedupFilter(load_removed(path))`` rejects the removed ids with the counted
   reasons ``dedup/exact`` and ``dedup/near``.
"""

from __future__ import annotations

from data_prep.dedup.cluster import cluster, load_removed, write_removed
from data_prep.dedup.stage import DedupFilter, dedup_enabled

__all__ = ["DedupFilter", "cluster", "dedup_enabled", "load_removed", "write_removed"]
