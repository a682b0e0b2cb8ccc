"""The run-wide step before the tasks: what every task and worker must share, computed once.

1. ``source=synthetic``: generate the documents (``sources.synthetic.generate``; resumable by file) and
   record the generator (checkpoint, step, weights hash, sampling, round) as ``provenance.generator``.
2. Stages with run-wide state (``Stage.prepare``: the perplexity band's bounds, the real-corpus MinHash
   index, the discriminator) compute it and record their summary as ``stats.<stage name>``.
3. Planted canaries: recorded as ``stats.canaries`` (they are inserted while packing, train split only).
Every part is idempotent, so a rerun after a kill redoes nothing that finished.
"""

from __future__ import annotations

from data_prep.config import PrepConfig, SourceKind
from data_prep.output import run_info
from data_prep.output.canaries import make_canaries, manifest_records
from data_prep.stages import build_doc_stages


def prepare_run(cfg: PrepConfig, out_dir: str, work_dir: str) -> None:
    if cfg.source.kind == SourceKind.synthetic:
        from data_prep.sources.synthetic import generate

        run_info.record(work_dir, "provenance", "generator", generate(cfg, out_dir))
    for stage in build_doc_stages(cfg):
        summary = stage.prepare()
        if summary is not None:
            run_info.record(work_dir, "stats", stage.name, summary)
    if cfg.canaries.count > 0:
        canaries = make_canaries(cfg.canaries.count, list(cfg.canaries.repeats), cfg.canaries.seed)
        run_info.record(work_dir, "stats", "canaries", manifest_records(canaries))
