"""Structured config for ``python -m data_prep``: types and validation only.

Every default, with what it means, lives in conf/: conf/prep.yaml (top-level keys), conf/prep_defaults/
(every source.*, pipeline.* and tokenizer.* key) and the presets of conf/source/, conf/pipeline/ and
conf/tokenizer/ (what differs). ``MISSING`` here means "set in conf/".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from data_prep.stages.filters.config import (
    BlocklistConfig,
    C4Config,
    DecontamConfig,
    DedupConfig,
    FineWebConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LangIdConfig,
    PiiConfig,
    validate_filters,
)
from openpretrain.errors import require
from openpretrain.logger import LoggerConfig


class SourceKind(str, Enum):
    python_stdlib = "python_stdlib"
    local = "local"
    hf = "hf"


class Step(str, Enum):
    all = "all"  # everything still to do (for task_id=K: everything task K can do on its own)
    filter = "filter"  # with whole-run dedup: phase 1 of the task(s)
    dedup = "dedup"  # with whole-run dedup: cluster the signatures of every task (one machine)
    pack = "pack"  # with whole-run dedup: phase 2 of the task(s); without dedup the same as all
    merge = "merge"  # write manifest.json (+ report) once every task is done


class TokenizerKind(str, Enum):
    train_bpe = "train_bpe"  # train a byte-level BPE on (a sample of) the corpus
    file = "file"  # load an existing tokenizer.json
    hf = "hf"  # load a Hugging Face tokenizer by name (needs the hub or a local cache)


@dataclass
class SourceConfig:
    kind: SourceKind = MISSING
    name: str = MISSING
    license: str = MISSING
    # local: files or globs (jsonl, jsonl.gz, parquet, txt)
    paths: list[str] = MISSING
    text_field: str = MISSING
    id_field: str | None = MISSING
    url_field: str | None = MISSING
    # hf: datasets.load_dataset(hub_id, hub_config, split=split, streaming=True)
    hub_id: str | None = MISSING
    hub_config: str | None = MISSING
    split: str = MISSING
    data_files: Any = MISSING
    synthetic: bool = MISSING
    # hf: transient network failures (429/5xx/connection) are retried with exponential backoff
    max_retries: int = MISSING
    retry_backoff_s: float = MISSING
    retry_max_backoff_s: float = MISSING


@dataclass
class PipelineConfig:
    name: str = MISSING
    normalize: str = MISSING
    min_chars: int = MISSING
    max_chars: int = MISSING
    # Filtering stages (data_prep/stages/filters), run in this order after cleaning; all off unless enabled.
    lang_id: LangIdConfig = field(default_factory=LangIdConfig)
    blocklist: BlocklistConfig = field(default_factory=BlocklistConfig)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4Config = field(default_factory=C4Config)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)  # whole-run exact / near dedup (data_prep/dedup)


@dataclass
class TokenizerConfig:
    kind: TokenizerKind = MISSING
    vocab_size: int = MISSING
    path: str | None = MISSING
    name: str | None = MISSING
    train_docs: int = MISSING
    eos_token: str = MISSING
    bos_token: str | None = MISSING
    min_frequency: int = MISSING


@dataclass
class PrepConfig:
    out_dir: str = MISSING
    max_docs: int | None = MISSING
    seq_len: int = MISSING
    val_fraction: float = MISSING
    samples_per_shard: int = MISSING
    seed: int = MISSING
    progress: bool = MISSING
    # Execution: the input is split into num_tasks tasks (one per machine / Slurm array index). task_id=null
    # runs every task here and then merges; task_id=K runs only task K. step picks one phase (see runner/phases.py).
    num_tasks: int = MISSING
    task_id: int | None = MISSING
    step: Step = MISSING
    num_workers: int = MISSING
    chunk_docs: int = MISSING
    report: bool = MISSING
    # A task saves its state after every unit that completed a shard, and at least this often otherwise.
    checkpoint_every_s: float = MISSING
    rejects: bool = MISSING
    rejects_text_chars: int = MISSING
    keep_intermediate: bool = MISSING
    overwrite: bool = MISSING
    source: SourceConfig = field(default_factory=SourceConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)  # the prep run in W&B (off by default)


def validate(cfg: PrepConfig) -> None:
    """Range and consistency checks OmegaConf's types cannot express."""
    require(bool(cfg.out_dir), "out_dir", "must be set, e.g. out_dir=data/stdlib")
    require(cfg.seq_len >= 1, "seq_len", f"must be >= 1, got {cfg.seq_len}")
    require(cfg.max_docs is None or cfg.max_docs >= 1, "max_docs", f"must be >= 1 or null, got {cfg.max_docs}")
    require(0.0 <= cfg.val_fraction < 1.0, "val_fraction", f"must be in [0, 1), got {cfg.val_fraction}")
    require(cfg.samples_per_shard >= 1, "samples_per_shard", f"must be >= 1, got {cfg.samples_per_shard}")
    require(cfg.num_tasks >= 1, "num_tasks", f"must be >= 1, got {cfg.num_tasks}")
    require(cfg.task_id is None or 0 <= cfg.task_id < cfg.num_tasks, "task_id",
            f"must be in [0, num_tasks={cfg.num_tasks}) or null, got {cfg.task_id}")
    require(cfg.num_workers >= 1, "num_workers", f"must be >= 1, got {cfg.num_workers}")
    require(cfg.checkpoint_every_s >= 0, "checkpoint_every_s", f"must be >= 0, got {cfg.checkpoint_every_s}")
    require(cfg.rejects_text_chars >= 0, "rejects_text_chars", f"must be >= 0, got {cfg.rejects_text_chars}")
    require(cfg.chunk_docs >= 1, "chunk_docs", f"must be >= 1, got {cfg.chunk_docs}")
    require(cfg.pipeline.min_chars >= 0, "pipeline.min_chars", f"must be >= 0, got {cfg.pipeline.min_chars}")
    require(
        cfg.pipeline.normalize in ("NFC", "NFKC", "NFD", "NFKD", "none"),
        "pipeline.normalize",
        f"must be one of NFC, NFKC, NFD, NFKD, none; got {cfg.pipeline.normalize!r}",
    )
    validate_filters(cfg.pipeline)
    tok = cfg.tokenizer
    require(tok.vocab_size >= 256 + 1, "tokenizer.vocab_size", f"must be >= 257 (256 bytes + EOS), got {tok.vocab_size}")
    if tok.kind == TokenizerKind.file:
        require(bool(tok.path), "tokenizer.path", "must be set when tokenizer.kind=file")
    if tok.kind == TokenizerKind.hf:
        require(bool(tok.name), "tokenizer.name", "must be set when tokenizer.kind=hf")
    src = cfg.source
    if src.kind == SourceKind.local:
        require(bool(src.paths), "source.paths", "must list at least one file or glob when source.kind=local")
    require(src.max_retries >= 0, "source.max_retries", f"must be >= 0, got {src.max_retries}")
    if src.kind == SourceKind.hf:
        require(bool(src.hub_id), "source.hub_id", "must be set when source.kind=hf (e.g. HuggingFaceFW/fineweb-edu)")


def register() -> None:
    ConfigStore.instance().store(name="prep_schema", node=PrepConfig)
