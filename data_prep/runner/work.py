"""The units of work the runner hands to worker processes, one per step of a task.

Each is built once per worker (``runner.parallel``), sets its stages up there, and turns one chunk of input
into a result the main process absorbs in input order, so the output does not depend on ``num_workers``:

- ``ChunkProcessor`` (one-pass runs): raw records -> stages -> token arrays.
- ``FilterProcessor`` (filter phase of whole-run dedup): raw records -> stages -> a part file + signatures.
- ``DedupAndTokenize`` (pack phase): a part's documents -> drop removed duplicates -> token arrays.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from data_prep.config import PrepConfig
from data_prep.dedup import DedupFilter, load_removed
from data_prep.dedup.parts import PART_SUFFIX, part_stem, write_part
from data_prep.document import Document, Stats
from data_prep.output.encode import ProcessedDoc, Tokenize
from data_prep.output.rejects import RecordingStage, RejectLog
from data_prep.sources import RawRecord
from data_prep.stages import bias_observer, build_doc_stages, filter_records, pipeline_language
from data_prep.stages.base import run_stages, setup_stages
from data_prep.stages.dedup_signature import SIGNATURE_SUFFIX, SignatureWriter


@dataclass
class ChunkResult:
    docs: list[ProcessedDoc]
    stats: Stats
    lengths_in: Counter = field(default_factory=Counter)
    rejects: list[dict] = field(default_factory=list)  # only with rejects=true

    @property
    def handled(self) -> int:
        """Input documents this unit accounted for (written or rejected), for the progress bar."""
        return len(self.docs) + self.stats.total_rejected


@dataclass
class FilterResult:
    kept: int
    stats: Stats
    lengths_in: Counter
    rejects: list[dict]

    @property
    def handled(self) -> int:
        return self.kept + self.stats.total_rejected


def new_reject_log(cfg: PrepConfig) -> RejectLog | None:
    return RejectLog(cfg.rejects_text_chars) if cfg.rejects else None


class ChunkProcessor:
    """The one-pass unit of work (no whole-run dedup): raw records -> filtered, tokenized documents."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str) -> None:
        self.cfg = cfg
        self.stages = setup_stages(build_doc_stages(cfg))
        self.tokenize = Tokenize(cfg, tokenizer_path, eos_id, dtype)

    def __call__(self, records: list[RawRecord]) -> ChunkResult:
        stats, lengths_in, log = Stats(), Counter(), new_reject_log(self.cfg)
        docs = filter_records(records, self.cfg, self.stages, stats, lengths_in, log)
        return ChunkResult(self.tokenize(docs), stats, lengths_in, log.items if log else [])


class FilterProcessor:
    """Filter phase: filter one unit, write its part and its signatures (by the worker that filtered it)."""

    def __init__(self, cfg: PrepConfig, folder: str) -> None:
        self.cfg = cfg
        self.folder = folder
        self.stages = setup_stages(build_doc_stages(cfg))

    def __call__(self, unit: tuple[int, list[RawRecord]]) -> FilterResult:
        index, records = unit
        stats, lengths_in, log = Stats(), Counter(), new_reject_log(self.cfg)
        docs = filter_records(records, self.cfg, self.stages, stats, lengths_in, log)
        stem = part_stem(self.folder, index)
        spaced = pipeline_language(self.cfg.pipeline).spaced
        with SignatureWriter(stem + SIGNATURE_SUFFIX, self.cfg.pipeline.dedup, spaced) as signatures:
            for doc in docs:
                signatures.add(doc)
        write_part(stem + PART_SUFFIX, docs)  # last: a part implies its signatures exist
        return FilterResult(len(docs), stats, lengths_in, log.items if log else [])


class DedupAndTokenize:
    """Pack phase after whole-run dedup: drop removed duplicates, tokenize the rest."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str, removed: str) -> None:
        self.cfg = cfg
        self.dedup = DedupFilter(load_removed(removed))
        self.tokenize = Tokenize(cfg, tokenizer_path, eos_id, dtype)

    def __call__(self, docs: list[Document]) -> ChunkResult:
        stats, log = Stats(), new_reject_log(self.cfg)
        stage = self.dedup if log is None else RecordingStage(self.dedup, log)
        kept = list(run_stages(docs, [stage], stats, bias_observer(self.cfg.pipeline, stats, after_dedup=True)))
        return ChunkResult(self.tokenize(kept), stats, rejects=log.items if log else [])
