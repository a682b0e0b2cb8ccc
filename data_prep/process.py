"""One unit of work: raw records -> documents -> stages -> token arrays, ready for ordered packing.

``ChunkProcessor`` is what worker processes run; the main process only packs and writes, in input order,
so the output does not depend on the number of workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import xxhash
from tokenizers import Tokenizer

from data_prep.accounting import length_bin
from data_prep.clean import CleanStage
from data_prep.config import PrepConfig
from data_prep.document import DocStage, Document, Stats, run_stages
from data_prep.filters import build_stages
from data_prep.rejects import RecordingStage, RejectLog
from data_prep.sources import RawRecord, to_documents

HASH_SPACE = float(2**64)


def build_doc_stages(cfg: PrepConfig) -> list[DocStage]:
    """Cleaning first, then the configured filter stages of ``data_prep.filters``."""
    return [CleanStage(cfg.pipeline), *build_stages(cfg.pipeline)]


def split_of(doc_id: str, val_fraction: float, seed: int) -> str:
    """train or val, decided by a hash of the document id: stable across reruns, tasks and machines."""
    if val_fraction <= 0.0:
        return "train"
    return "val" if xxhash.xxh64_intdigest(doc_id.encode("utf-8"), seed=seed) / HASH_SPACE < val_fraction else "train"


@dataclass
class ProcessedDoc:
    id: str
    source: str
    license: str
    synthetic: bool
    split: str
    n_bytes: int
    chars: int
    tokens: np.ndarray  # document tokens followed by EOS, in the manifest's token dtype


@dataclass
class ChunkResult:
    docs: list[ProcessedDoc]
    stats: Stats
    lengths_in: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)  # only with rejects=true


def new_reject_log(cfg: PrepConfig) -> RejectLog | None:
    return RejectLog(cfg.rejects_text_chars) if cfg.rejects else None


def filter_records(records: Iterable[RawRecord], cfg: PrepConfig, stages: list[DocStage],
                   stats: Stats, lengths_in: Counter, log: RejectLog | None = None) -> list[Document]:
    """Records -> documents that passed every stage; the length histogram is taken before the stages."""
    on_reject = None if log is None else (lambda rid, reason: log.add(rid, reason, cfg.source.name, None))
    if log is not None:
        stages = [RecordingStage(stage, log) for stage in stages]

    def entering():
        for doc in to_documents(records, cfg.source, stats, on_reject):
            lengths_in[length_bin(len(doc.text))] += 1
            yield doc

    return list(run_stages(entering(), stages, stats))


class Tokenize:
    """Documents -> ProcessedDocs (tokens + EOS in the manifest dtype, train/val split decided)."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str) -> None:
        self.cfg = cfg
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.eos = np.array([eos_id], dtype=dtype)
        self.dtype = dtype

    def __call__(self, docs: list[Document]) -> list[ProcessedDoc]:
        encodings = self.tokenizer.encode_batch_fast([d.text for d in docs], add_special_tokens=False)
        out = []
        for doc, enc in zip(docs, encodings):
            tokens = np.concatenate([np.asarray(enc.ids, dtype=self.dtype), self.eos])
            out.append(ProcessedDoc(
                id=doc.id, source=doc.source, license=doc.license, synthetic=doc.synthetic,
                split=split_of(doc.id, self.cfg.val_fraction, self.cfg.seed),
                n_bytes=len(doc.text.encode("utf-8")), chars=len(doc.text), tokens=tokens,
            ))
        return out


class ChunkProcessor:
    """The one-pass unit of work (no whole-run dedup): raw records -> filtered, tokenized documents."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str) -> None:
        self.cfg = cfg
        self.stages = build_doc_stages(cfg)
        self.tokenize = Tokenize(cfg, tokenizer_path, eos_id, dtype)

    def __call__(self, records: list[RawRecord]) -> ChunkResult:
        stats, lengths_in, log = Stats(), Counter(), new_reject_log(self.cfg)
        docs = filter_records(records, self.cfg, self.stages, stats, lengths_in, log)
        return ChunkResult(self.tokenize(docs), stats, lengths_in, log.items if log else [])
