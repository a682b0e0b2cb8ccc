"""Whole-run deduplication: exact (normalised-text hash) and near (MinHash-LSH), across tasks and machines.

Three calls, in this order (the pipeline makes them; see data_prep/filters/config.py DedupConfig):

1. Per task, after the filter stages (pass 1)::

       with SignatureWriter(out_dir / "dedup" / f"task-{task_id:05d}.minhash.npz", cfg.pipeline.dedup) as w:
           for doc in run_stages(docs, build_stages(cfg.pipeline), stats):
               w.add(doc)
   (or ``compute_signatures(docs, dedup_cfg, path)``). The file appears atomically when the block ends,
   so a task killed midway leaves no file and simply recomputes it.

2. Once, after every task has written its file (the merge step; one machine)::

       removed = cluster(sorted(glob(out_dir / "dedup" / "*.minhash.npz")), cfg.pipeline.dedup)
       write_removed(out_dir / "dedup" / "removed.tsv", removed)     # {doc id: "exact" | "near"}

   Each exact group and each near-duplicate cluster keeps its smallest document id.

3. Per task, when writing shards (pass 2): the same stages plus ``DedupFilter(load_removed(path))``
   (``build_stages(pipeline_cfg, removed=...)`` appends it), which rejects the removed ids with the
   counted reasons ``dedup/exact`` and ``dedup/near``.
"""

from __future__ import annotations

from data_prep.dedup.cluster import cluster, load_removed, write_removed
from data_prep.dedup.signatures import SIGNATURE_SUFFIX, SignatureWriter, compute_signatures, load_signatures
from data_prep.dedup.stage import DedupFilter, dedup_enabled

__all__ = [
    "SIGNATURE_SUFFIX", "DedupFilter", "SignatureWriter", "cluster", "compute_signatures", "dedup_enabled",
    "load_removed", "load_signatures", "write_removed",
]
