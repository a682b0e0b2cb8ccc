"""MinHash part of bench/prep_throughput.py: signature speed and cluster agreement with datatrove.

Agreement is measured on "this document is in a near-duplicate cluster (size >= 2)": which member a
cluster keeps differs by design (we keep the smallest id, datatrove the root of its union-find).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from data_prep.config import PipelineConfig
from data_prep.document import Document
from data_prep.stages.dedup_signature import SignatureWriter


def _ours(docs: list[str], cfg: PipelineConfig, tmp: Path) -> tuple[float, set[int]]:
    dedup = replace(cfg.dedup, exact=False, near=True)
    writer = SignatureWriter(tmp / "ours" / "task-00000.minhash.npz", dedup)
    items = [Document(id=f"{i:08d}", text=t, source="bench", license="-") for i, t in enumerate(docs)]
    for doc in items[:50]:  # same warm-up as the datatrove side
        writer.hasher.keys_of(doc.text)
    start = time.perf_counter()
    for doc in items:
        writer.add(doc)
    elapsed = time.perf_counter() - start
    # a document is in a cluster of size >= 2 exactly when one of its band keys is shared
    rows = [tuple(keys.tolist()) if has else None for keys, has in zip(writer.bands, writer.has_words)]
    counts = Counter((band, key) for row in rows if row for band, key in enumerate(row))
    members = {i for i, row in enumerate(rows) if row and any(counts[(b, k)] > 1 for b, k in enumerate(row))}
    return elapsed, members


@contextlib.contextmanager
def _quiet_stderr():
    """Silence stderr at the file-descriptor level (loguru sinks keep their own handle on it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _datatrove(docs: list[str], cfg: PipelineConfig, tmp: Path) -> tuple[float, set[int]] | None:
    try:
        from datatrove.data import Document as DtDocument
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline.dedup.minhash import (
            MinhashConfig,
            MinhashDedupBuckets,
            MinhashDedupCluster,
            MinhashDedupSignature,
        )
    except ImportError:
        return None
    mh = MinhashConfig(n_grams=cfg.dedup.ngram, num_buckets=cfg.dedup.bands, hashes_per_bucket=cfg.dedup.rows)
    sig = MinhashDedupSignature(output_folder=str(tmp / "dt" / "sigs"), config=mh)
    for text in docs[:50]:  # load spaCy before timing
        sig.get_shingles(text)
    start = time.perf_counter()
    for text in docs:
        shingles = sig.get_shingles(text)
        if shingles.size:
            sig.get_signature(shingles)
    elapsed = time.perf_counter() - start
    items = [DtDocument(text=t, id=str(i)) for i, t in enumerate(docs)]
    logs, out = str(tmp / "dt" / "logs"), tmp / "dt"
    with _quiet_stderr():  # datatrove logs every stage at INFO on stderr
        LocalPipelineExecutor(pipeline=[items, sig], tasks=1, logging_dir=logs + "1").run()
        buckets = MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=mh)
        LocalPipelineExecutor(pipeline=[buckets], tasks=mh.num_buckets, logging_dir=logs + "2").run()
        clusters = MinhashDedupCluster(str(out / "buckets"), str(out / "clusters"), config=mh, save_cluster_id=True)
        LocalPipelineExecutor(pipeline=[clusters], tasks=1, logging_dir=logs + "3").run()
    members: set[int] = set()
    for path in (out / "clusters").glob("*.clusters"):
        members.update(doc for doc, _ in struct.iter_unpack("<II", path.read_bytes()))
    return elapsed, members


def report_minhash(docs: list[str], cfg: PipelineConfig, tmp: Path) -> None:
    print(f"\n== MinHash near-dedup ({cfg.dedup.ngram}-grams, {cfg.dedup.bands}x{cfg.dedup.rows}, 1 core) ==")
    our_time, ours = _ours(docs, cfg, tmp)
    print(f"ours      : {len(docs) / our_time:9.1f} docs/s (signatures)   in duplicate clusters: {len(ours)}")
    result = _datatrove(docs, cfg, tmp)
    if result is None:
        print("datatrove comparison skipped; install with: pip install datatrove spacy")
        return
    dt_time, theirs = result
    print(f"datatrove : {len(docs) / dt_time:9.1f} docs/s (signatures)   in duplicate clusters: {len(theirs)}")
    print(f"ratio     : {dt_time / our_time:9.2f}x")
    agree = sum((i in ours) == (i in theirs) for i in range(len(docs)))
    print(f"cluster membership agreement: {100 * agree / len(docs):.2f}%  "
          f"(ours only {len(ours - theirs)}, datatrove only {len(theirs - ours)})")
