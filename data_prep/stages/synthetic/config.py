"""Structured config of the synthetic-data pieces: the generated-text stages (``pipeline.dedup_real``,
``pipeline.ppl``, ``pipeline.discriminator``) and the planted canaries (``canaries.*``). Types and
validation only; every default, with what it means, is in conf/prep_defaults/pipeline.yaml and conf/prep.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from openpretrain.errors import require

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RealDedupConfig:
    enabled: bool = MISSING
    max_real_docs: int = MISSING
    ngram: int = MISSING
    bands: int = MISSING
    rows: int = MISSING
    seed: int = MISSING


@dataclass
class PplBandConfig:
    enabled: bool = MISSING
    reference: str | None = MISSING
    low_quantile: float = MISSING
    high_quantile: float = MISSING
    min: float | None = MISSING
    max: float | None = MISSING
    calibration_docs: int = MISSING
    max_tokens: int = MISSING
    batch_size: int = MISSING
    device: str = MISSING


@dataclass
class DiscriminatorConfig:
    enabled: bool = MISSING
    min_real_prob: float = MISSING
    max_docs: int = MISSING
    n_features: int = MISSING
    ngram_max: int = MISSING
    steps: int = MISSING
    heldout_fraction: float = MISSING
    seed: int = MISSING


@dataclass
class CanariesConfig:
    count: int = MISSING
    repeats: list[int] = MISSING
    every: int = MISSING
    seed: int = MISSING


def validate_synthetic_stages(pipeline: Any) -> None:
    """Checks of ``pipeline.dedup_real|ppl|discriminator`` that types cannot express (pipeline: PipelineConfig)."""
    needs_real = [k for k in ("dedup_real", "ppl", "discriminator") if getattr(pipeline, k).enabled]
    if needs_real:
        require(bool(pipeline.real_data), "pipeline.real_data",
                f"must name the real prepared dataset (a data_prep out_dir) for pipeline.{', '.join(needs_real)}")
    real = pipeline.dedup_real
    require(real.max_real_docs >= 1, "pipeline.dedup_real.max_real_docs", f"must be >= 1, got {real.max_real_docs}")
    require(real.ngram >= 1 and real.bands >= 1 and real.rows >= 1, "pipeline.dedup_real",
            "ngram, bands and rows must be >= 1")
    ppl = pipeline.ppl
    if ppl.enabled:
        require(bool(ppl.reference), "pipeline.ppl.reference", "must name a checkpoint (run dir or step_N dir)")
    require(0 <= ppl.low_quantile < ppl.high_quantile <= 1, "pipeline.ppl.low_quantile",
            f"need 0 <= low_quantile < high_quantile <= 1, got {ppl.low_quantile}, {ppl.high_quantile}")
    require(ppl.min is None or ppl.min > 0, "pipeline.ppl.min", f"must be > 0 or null, got {ppl.min}")
    require(ppl.max is None or ppl.max > (ppl.min or 0), "pipeline.ppl.max",
            f"must be > pipeline.ppl.min ({ppl.min}) or null, got {ppl.max}")
    for key in ("calibration_docs", "max_tokens", "batch_size"):
        require(getattr(ppl, key) >= 1, f"pipeline.ppl.{key}", f"must be >= 1, got {getattr(ppl, key)}")
    require(ppl.device in DEVICES, "pipeline.ppl.device", f"must be one of {', '.join(DEVICES)}, got {ppl.device!r}")
    disc = pipeline.discriminator
    require(0 <= disc.min_real_prob <= 1, "pipeline.discriminator.min_real_prob",
            f"must be in [0, 1], got {disc.min_real_prob}")
    require(0 < disc.heldout_fraction < 1, "pipeline.discriminator.heldout_fraction",
            f"must be in (0, 1), got {disc.heldout_fraction}")
    require(disc.max_docs >= 2, "pipeline.discriminator.max_docs", f"must be >= 2, got {disc.max_docs}")
    for key in ("n_features", "ngram_max", "steps"):
        require(getattr(disc, key) >= 1, f"pipeline.discriminator.{key}", f"must be >= 1, got {getattr(disc, key)}")


def validate_canaries(canaries: CanariesConfig) -> None:
    require(canaries.count >= 0, "canaries.count", f"must be >= 0 (0 = off), got {canaries.count}")
    repeats = list(canaries.repeats)
    require(bool(repeats) and all(r >= 1 for r in repeats) and len(set(repeats)) == len(repeats),
            "canaries.repeats", f"must be distinct counts >= 1, e.g. [1,10,100]; got {repeats}")
    require(canaries.every >= 1, "canaries.every", f"must be >= 1, got {canaries.every}")


PROMPTS = ("unconditional", "prefix")


def validate_synthetic_source(cfg: Any) -> None:
    """``source.*`` checks for source.kind=synthetic (cfg: PrepConfig)."""
    src = cfg.source
    require(bool(src.checkpoint), "source.checkpoint", "must name a checkpoint (run dir or run/checkpoints/step_N)")
    require(src.num_docs >= 1, "source.num_docs", f"must be >= 1, got {src.num_docs}")
    require(src.prompt in PROMPTS, "source.prompt", f"must be one of {', '.join(PROMPTS)}, got {src.prompt!r}")
    if src.prompt == "prefix":
        require(bool(src.prompt_data), "source.prompt_data", "must name a prepared real dataset when prompt=prefix")
    require(src.prompt_tokens >= 1, "source.prompt_tokens", f"must be >= 1, got {src.prompt_tokens}")
    require(src.batch_size >= 1, "source.batch_size", f"must be >= 1, got {src.batch_size}")
    require(src.docs_per_file >= 1, "source.docs_per_file", f"must be >= 1, got {src.docs_per_file}")
    require(src.loop_round >= 0, "source.loop_round", f"must be >= 0, got {src.loop_round}")
    require(src.device in DEVICES, "source.device", f"must be one of {', '.join(DEVICES)}, got {src.device!r}")
    require(cfg.tokenizer.kind != "train_bpe", "tokenizer",
            "source=synthetic needs the generator's tokenizer: tokenizer=file tokenizer.path=REAL_DIR/tokenizer.json")
