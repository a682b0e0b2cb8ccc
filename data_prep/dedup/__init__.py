"""Whole-run deduplication (exact + MinHash-LSH near dedup), in steps that scale out like the rest of prep.

1. Filter phase, per task: ``data_prep.stages.dedup_signature.SignatureWriter`` stores each kept
   document's signature next to the task's parts (``data_prep.dedup.parts``); at the task's end
   ``sort_runs.sort_task`` turns them into sorted runs (external sort, bounded by pipeline.dedup.memory_mb).
2. Per key-range bucket (a Slurm array index, or a local process): ``buckets.run_bucket`` merges the
   bucket's range of every task's runs and writes the groups of equal keys.
3. Once: ``union.run_union`` keeps the smallest id of each exact group and each near-duplicate component
   and writes the decision per task (``removed.write_removed``). ``local.dedup_locally`` runs 1-3 here.
4. Pack phase, per task: ``DedupFilter(load_removed(path))`` rejects the removed ids with the counted
   reasons ``dedup/exact`` and ``dedup/near``.
"""

from __future__ import annotations

from data_prep.dedup.layout import DedupDirs
from data_prep.dedup.local import dedup_locally
from data_prep.dedup.removed import load_removed, write_removed
from data_prep.dedup.stage import DedupFilter, dedup_enabled

__all__ = ["DedupDirs", "DedupFilter", "dedup_enabled", "dedup_locally", "load_removed", "write_removed"]
