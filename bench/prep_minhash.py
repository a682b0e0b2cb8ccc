"""MinHash part of bench/prep_throughput.py: signature speed and cluster agreement with datatrove."""

from __future__ import annotations

import struct
import time
from dataclasses import replace
from pathlib import Path

from data_prep.config import PipelineConfig
from data_prep.dedup import SignatureWriter, cluster
from data_prep.document import Document


def _ours(docs: list[str], cfg: PipelineConfig, tmp: Path) -> tuple[float, set[int]]:
    dedup = replace(cfg.dedup, exact=False, near=True)
    writer = SignatureWriter(tmp / "ours" / "task-00000.minhash.npz", dedup)
    items = [Document(id=f"{i:08d}", text=t, source="bench", license="-") for i, t in enumerate(docs)]
    start = time.perf_counter()
    for doc in items:
        writer.add(doc)
    elapsed = time.perf_counter() - start
    removed = cluster([writer.close()], dedup)
    keys = {}
    members = set()
    for i, doc in enumerate(items):  # documents in a cluster of size >= 2: removed ones and their keepers
        if doc.id in removed:
            members.add(i)
    # a keeper is any document sharing a band key with a removed one
    data = writer.bands
    for i in members.copy():
        for band, key in enumerate(data[i].tolist()):
            keys.setdefault((band, key), set()).add(i)
    for i, row in enumerate(data):
        if i in members:
            continue
        if any((band, key) in keys for band, key in enumerate(row.tolist())):
            members.add(i)
    return elapsed, members


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
    from loguru import logger

    logger.remove()  # datatrove logs every stage at INFO
    mh = MinhashConfig(n_grams=cfg.dedup.ngram, num_buckets=cfg.dedup.bands, hashes_per_bucket=cfg.dedup.rows)
    sig = MinhashDedupSignature(output_folder=str(tmp / "dt" / "sigs"), config=mh)
    start = time.perf_counter()
    for text in docs:
        shingles = sig.get_shingles(text)
        if shingles.size:
            sig.get_signature(shingles)
    elapsed = time.perf_counter() - start
    items = [DtDocument(text=t, id=str(i)) for i, t in enumerate(docs)]
    logs = str(tmp / "dt" / "logs")
    LocalPipelineExecutor(pipeline=[items, sig], tasks=1, logging_dir=logs + "1").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(str(tmp / "dt" / "sigs"), str(tmp / "dt" / "buckets"),
                                                        config=mh)],
                          tasks=mh.num_buckets, logging_dir=logs + "2").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(str(tmp / "dt" / "buckets"), str(tmp / "dt" / "clusters"),
                                                        config=mh, save_cluster_id=True)],
                          tasks=1, logging_dir=logs + "3").run()
    members = set()
    for path in (tmp / "dt" / "clusters").glob("*.clusters"):
        raw = path.read_bytes()
        members.update(doc for doc, _ in struct.iter_unpack("<II", raw))
    return elapsed, members


def report_minhash(docs: list[str], cfg: PipelineConfig, tmp: Path) -> None:
    print(f"\n== MinHash near-dedup ({cfg.dedup.ngram}-grams, {cfg.dedup.bands}x{cfg.dedup.rows}) ==")
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
