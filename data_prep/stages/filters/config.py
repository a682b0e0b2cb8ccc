"""Structured config of the filtering, dedup and decontamination stages (``pipeline.*``): types and
validation only. Every default, with what it means, is in conf/prep_defaults/pipeline.yaml (every stage
off, the published thresholds: Gopher / MassiveText table A1, C4, FineWeb); conf/pipeline/<name>.yaml
presets switch stages on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from openpretrain.errors import require

PII_TYPES = ["email", "phone", "ip", "credit_card", "ssn", "iban", "cn_id", "cn_bank_card", "cn_mobile", "cn_landline"]
SEGMENTERS = ("rules", "jieba")
BAD_WORD_MODES = ("drop", "ratio")
T2S_MODES = ("none", "convert", "keep_both")
DECONTAM_MODES = ("drop", "flag")


@dataclass
class LangIdConfig:
    enabled: bool = MISSING
    keep: list[str] = MISSING
    min_score: float = MISSING
    max_chars: int = MISSING


@dataclass
class GopherQualityConfig:
    enabled: bool = MISSING
    min_words: int = MISSING
    max_words: int = MISSING
    min_mean_word_length: float = MISSING
    max_mean_word_length: float = MISSING
    max_hash_ratio: float = MISSING
    max_ellipsis_ratio: float = MISSING
    max_bullet_lines_ratio: float = MISSING
    max_ellipsis_lines_ratio: float = MISSING
    min_alpha_words_ratio: float = MISSING
    min_stop_words: int = MISSING
    stop_words: list[str] = MISSING
    bullet_prefixes: list[str] = MISSING


@dataclass
class GopherRepetitionConfig:
    enabled: bool = MISSING
    max_dup_line_frac: float = MISSING
    max_dup_para_frac: float = MISSING
    max_dup_line_char_frac: float = MISSING
    max_dup_para_char_frac: float = MISSING
    # n -> max share of characters in the most frequent n-gram (a command-line dict override merges into
    # these; set a size to 1.0 to switch it off)
    top_ngram_max_char_frac: dict[int, float] = MISSING
    # n -> max share of characters in repeated n-grams
    dup_ngram_max_char_frac: dict[int, float] = MISSING


@dataclass
class C4Config:
    enabled: bool = MISSING
    # Line rules drop lines; document rules drop the document.
    filter_no_terminal_punct: bool = MISSING
    min_words_per_line: int = MISSING
    max_word_length: int = MISSING
    remove_citations: bool = MISSING
    drop_javascript_lines: bool = MISSING
    drop_policy_lines: bool = MISSING
    policy_phrases: list[str] = MISSING
    drop_lorem_ipsum: bool = MISSING
    drop_curly_bracket: bool = MISSING
    min_sentences: int = MISSING


@dataclass
class FineWebConfig:
    enabled: bool = MISSING
    min_terminal_punct_lines: float = MISSING
    max_short_lines: float = MISSING
    short_line_chars: int = MISSING
    max_dup_line_char_frac: float = MISSING
    max_newline_word_ratio: float = MISSING


@dataclass
class BlocklistConfig:
    enabled: bool = MISSING
    url_blocklist: str | None = MISSING
    word_list: str | None = MISSING
    max_word_hits: int = MISSING
    max_word_ratio: float = MISSING


@dataclass
class PiiConfig:
    enabled: bool = MISSING
    types: list[str] = MISSING
    placeholders: dict[str, str] = MISSING
    max_matches: int = MISSING


@dataclass
class DecontamConfig:
    enabled: bool = MISSING
    eval_paths: list[str] = MISSING
    ngram: int = MISSING
    min_words: int = MISSING
    min_matches: int = MISSING
    mode: str = MISSING


@dataclass
class ScriptConfig:
    enabled: bool = MISSING
    scripts: list[str] = MISSING
    min_fraction: float = MISSING
    min_chars: int = MISSING
    traditional_to_simplified: str = MISSING  # none | convert | keep_both


@dataclass
class BadWordsConfig:
    enabled: bool = MISSING
    languages: list[str] = MISSING
    mode: str = MISSING
    max_ratio: float = MISSING
    allowlist: list[str] = MISSING
    extra_lists: list[str] = MISSING


@dataclass
class BiasConfig:
    enabled: bool = MISSING
    groups: dict[str, dict[str, list[str]]] = MISSING  # language -> group -> terms


@dataclass
class DedupConfig:
    exact: bool = MISSING
    near: bool = MISSING
    ngram: int = MISSING
    bands: int = MISSING
    rows: int = MISSING
    seed: int = MISSING
    buckets: int = MISSING  # key-range buckets of the dedup step (one Slurm array index / local process each)
    memory_mb: int = MISSING  # memory bound of each dedup step; beyond it they spill sorted runs to disk


DEDUP_MIN_MEMORY_MB = 1  # tiny on purpose: the tests force spills and sub-ranges with it


def _fraction(value: float, key: str) -> None:
    require(0.0 <= value <= 1.0, key, f"must be in [0, 1], got {value}")


def validate_filters(cfg: Any) -> None:
    """Checks of ``pipeline.*`` stage settings that types cannot express (cfg: PipelineConfig)."""
    lang = cfg.lang_id
    _fraction(lang.min_score, "pipeline.lang_id.min_score")
    require(lang.max_chars >= 1, "pipeline.lang_id.max_chars", f"must be >= 1, got {lang.max_chars}")
    gq = cfg.gopher_quality
    require(0 <= gq.min_words <= gq.max_words, "pipeline.gopher_quality.min_words",
            f"must be in [0, max_words={gq.max_words}], got {gq.min_words}")
    require(gq.min_mean_word_length <= gq.max_mean_word_length, "pipeline.gopher_quality.min_mean_word_length",
            "must be <= max_mean_word_length")
    for key in ("max_bullet_lines_ratio", "max_ellipsis_lines_ratio", "min_alpha_words_ratio"):
        _fraction(getattr(gq, key), f"pipeline.gopher_quality.{key}")
    gr = cfg.gopher_repetition
    for key in ("max_dup_line_frac", "max_dup_para_frac", "max_dup_line_char_frac", "max_dup_para_char_frac"):
        _fraction(getattr(gr, key), f"pipeline.gopher_repetition.{key}")
    for key in ("top_ngram_max_char_frac", "dup_ngram_max_char_frac"):
        for n, frac in getattr(gr, key).items():
            require(int(n) >= 1, f"pipeline.gopher_repetition.{key}", f"n-gram sizes must be >= 1, got {n}")
            _fraction(frac, f"pipeline.gopher_repetition.{key}.{n}")
    fw = cfg.fineweb
    for key in ("min_terminal_punct_lines", "max_short_lines", "max_dup_line_char_frac"):
        _fraction(getattr(fw, key), f"pipeline.fineweb.{key}")
    bl = cfg.blocklist
    require(bl.max_word_hits >= 0, "pipeline.blocklist.max_word_hits", f"must be >= 0, got {bl.max_word_hits}")
    if bl.enabled:
        require(bool(bl.url_blocklist or bl.word_list), "pipeline.blocklist",
                "enabled but neither url_blocklist nor word_list is set")
    pii = cfg.pii
    unknown = sorted(set(pii.types) - set(PII_TYPES))
    require(not unknown, "pipeline.pii.types", f"unknown {unknown}; allowed: {', '.join(PII_TYPES)}")
    missing = sorted(set(pii.types) - set(pii.placeholders))
    require(not missing, "pipeline.pii.placeholders", f"no placeholder for {missing}")
    dc = cfg.decontam
    require(dc.mode in DECONTAM_MODES, "pipeline.decontam.mode",
            f"must be one of {', '.join(DECONTAM_MODES)}; got {dc.mode!r}")
    require(dc.ngram >= 1, "pipeline.decontam.ngram", f"must be >= 1, got {dc.ngram}")
    require(1 <= dc.min_words <= dc.ngram, "pipeline.decontam.min_words",
            f"must be in [1, ngram={dc.ngram}], got {dc.min_words}")
    require(dc.min_matches >= 1, "pipeline.decontam.min_matches", f"must be >= 1, got {dc.min_matches}")
    if dc.enabled:
        require(bool(dc.eval_paths), "pipeline.decontam.eval_paths", "must list evaluation files when enabled")
    _validate_open_data(cfg)
    dd = cfg.dedup
    require(dd.ngram >= 1, "pipeline.dedup.ngram", f"must be >= 1, got {dd.ngram}")
    require(dd.bands >= 1 and dd.rows >= 1, "pipeline.dedup.bands",
            f"bands and rows must be >= 1, got {dd.bands} x {dd.rows}")
    require(dd.buckets >= 1, "pipeline.dedup.buckets", f"must be >= 1, got {dd.buckets}")
    require(dd.memory_mb >= DEDUP_MIN_MEMORY_MB, "pipeline.dedup.memory_mb",
            f"must be >= {DEDUP_MIN_MEMORY_MB}, got {dd.memory_mb}")


def _validate_open_data(cfg: Any) -> None:
    """Language, script, bad-word and bias settings (issue 13)."""
    from data_prep.stages.filters.badwords import available_languages
    from data_prep.stages.filters.scripts import SCRIPTS

    require(cfg.segmenter in SEGMENTERS, "pipeline.segmenter",
            f"must be one of {', '.join(SEGMENTERS)}; got {cfg.segmenter!r}")
    sc = cfg.script
    unknown = sorted(set(sc.scripts) - set(SCRIPTS))
    require(not unknown, "pipeline.script.scripts", f"unknown {unknown}; allowed: {', '.join(SCRIPTS)}")
    _fraction(sc.min_fraction, "pipeline.script.min_fraction")
    require(sc.traditional_to_simplified in T2S_MODES, "pipeline.script.traditional_to_simplified",
            f"must be one of {', '.join(T2S_MODES)}; got {sc.traditional_to_simplified!r}")
    bw = cfg.bad_words
    require(bw.mode in BAD_WORD_MODES, "pipeline.bad_words.mode",
            f"must be one of {', '.join(BAD_WORD_MODES)}; got {bw.mode!r}")
    _fraction(bw.max_ratio, "pipeline.bad_words.max_ratio")
    if bw.enabled:
        lists = available_languages()
        unknown = sorted(set(bw.languages) - set(lists))
        require(not unknown, "pipeline.bad_words.languages", f"no LDNOOBW list for {unknown}; have: {', '.join(lists)}")
