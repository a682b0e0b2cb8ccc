"""Structured config of the filtering, dedup and decontamination stages (``pipeline.*`` in conf/pipeline/).

Every stage is off by default so ``pipeline=minimal`` only cleans; ``pipeline=web`` / ``pipeline=code``
switch stages on. Defaults are the published values (Gopher / MassiveText table A1, C4, FineWeb) and
must agree with conf/pipeline/web.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openpretrain.errors import require

GOPHER_STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
C4_POLICY_PHRASES = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies"]
PII_TYPES = ["email", "phone", "ip", "credit_card", "ssn", "iban"]
DECONTAM_MODES = ("drop", "flag")


@dataclass
class LangIdConfig:
    enabled: bool = False
    keep: list[str] = field(default_factory=lambda: ["en"])  # ISO 639-1 codes; empty = keep any language
    min_score: float = 0.65  # probability of the predicted language
    max_chars: int = 10_000  # classify only the first N characters (speed; the start is representative)


@dataclass
class GopherQualityConfig:
    enabled: bool = False
    min_words: int = 50  # words = tokens with at least one letter or digit
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_hash_ratio: float = 0.1  # "#" per word
    max_ellipsis_ratio: float = 0.1  # "..." or "…" per word
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8  # share of words with at least one letter
    min_stop_words: int = 2  # distinct stop words present
    stop_words: list[str] = field(default_factory=lambda: list(GOPHER_STOP_WORDS))
    bullet_prefixes: list[str] = field(default_factory=lambda: ["•", "-"])


@dataclass
class GopherRepetitionConfig:
    enabled: bool = False
    max_dup_line_frac: float = 0.3
    max_dup_para_frac: float = 0.3
    max_dup_line_char_frac: float = 0.2
    max_dup_para_char_frac: float = 0.2
    # n -> max share of characters in the most frequent n-gram (a command-line dict override merges into
    # these; set a size to 1.0 to switch it off)
    top_ngram_max_char_frac: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    # n -> max share of characters in repeated n-grams
    dup_ngram_max_char_frac: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )


@dataclass
class C4Config:
    enabled: bool = False
    # Line rules drop lines; document rules drop the document.
    filter_no_terminal_punct: bool = False  # C4 paper: true; FineWeb: false (too aggressive on web text)
    min_words_per_line: int = 3
    max_word_length: int = 1000  # lines with a longer word are dropped
    remove_citations: bool = True  # "[1]", "[edit]", "[citation needed]"
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True
    policy_phrases: list[str] = field(default_factory=lambda: list(C4_POLICY_PHRASES))
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True
    min_sentences: int = 5  # after line filtering; 0 disables


@dataclass
class FineWebConfig:
    enabled: bool = False
    min_terminal_punct_lines: float = 0.12  # share of lines ending in terminal punctuation
    max_short_lines: float = 0.67
    short_line_chars: int = 30
    max_dup_line_char_frac: float = 0.01
    max_newline_word_ratio: float = 0.3


@dataclass
class BlocklistConfig:
    enabled: bool = False
    url_blocklist: str | None = None  # file: one domain ("example.com" blocks its subdomains) or URL prefix per line
    word_list: str | None = None  # file: one word or phrase per line (matched case-insensitively, whole words)
    max_word_hits: int = 0  # reject when more blocklisted words than this occur (0: any occurrence rejects)
    max_word_ratio: float = 1.0  # ... or when their share of all words is above this


@dataclass
class PiiConfig:
    enabled: bool = False
    types: list[str] = field(default_factory=lambda: list(PII_TYPES))
    placeholders: dict[str, str] = field(default_factory=lambda: {
        "email": "<EMAIL>", "phone": "<PHONE>", "ip": "<IP_ADDRESS>", "credit_card": "<CREDIT_CARD>",
        "ssn": "<US_SSN>", "iban": "<IBAN>",
    })
    max_matches: int = 50  # documents with more PII matches are dropped (-1: never drop)


@dataclass
class DecontamConfig:
    enabled: bool = False
    eval_paths: list[str] = field(default_factory=list)  # .txt (one text per line) or .jsonl[.gz] files/globs
    ngram: int = 13  # words per n-gram (normalised: lower case, no punctuation)
    min_words: int = 8  # eval texts shorter than ngram are matched whole if they have at least this many words
    min_matches: int = 1  # overlapping n-grams needed to call a document contaminated
    mode: str = "drop"  # drop | flag (meta["contaminated_ngrams"])


@dataclass
class DedupConfig:
    exact: bool = False  # hash of the normalised text; one document per hash is kept
    near: bool = False  # MinHash-LSH on word n-grams; one document per cluster is kept
    ngram: int = 5
    bands: int = 14
    rows: int = 8  # hashes per band: pairs with Jaccard ~ (1/bands)^(1/rows) = 0.72 collide half the time
    seed: int = 1


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
    dd = cfg.dedup
    require(dd.ngram >= 1, "pipeline.dedup.ngram", f"must be >= 1, got {dd.ngram}")
    require(dd.bands >= 1 and dd.rows >= 1, "pipeline.dedup.bands",
            f"bands and rows must be >= 1, got {dd.bands} x {dd.rows}")
