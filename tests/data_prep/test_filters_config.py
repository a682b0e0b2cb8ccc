"""conf/ presets compose to complete configs (the dataclasses hold no defaults), and build their stages."""

from __future__ import annotations

from dataclasses import MISSING as MISSING_FACTORY
from dataclasses import fields, is_dataclass, replace

import pytest
from omegaconf import MISSING, OmegaConf

from data_prep.config import PipelineConfig
from data_prep.stages import build_stages
from data_prep.stages.filters.config import validate_filters
from openpretrain.errors import ConfigError
from tests.conftest import REPO_ROOT
from tests.data_prep.filter_texts import pipeline_config

STAGE_SECTIONS = ("lang_id", "blocklist", "gopher_repetition", "gopher_quality", "c4", "fineweb", "decontam",
                  "pii")


@pytest.mark.parametrize("name", ["minimal", "web", "code"])
def test_presets_validate(name: str) -> None:
    validate_filters(pipeline_config(name))


def test_minimal_has_no_stages_and_no_dedup() -> None:
    cfg = pipeline_config("minimal")
    assert build_stages(cfg) == []
    assert not (cfg.dedup.exact or cfg.dedup.near)


def _presets(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO_ROOT / "conf" / group).glob("*.yaml"))


@pytest.mark.parametrize(("group", "preset"), [(g, p) for g in ("source", "pipeline", "tokenizer") for p in _presets(g)])
def test_every_shipped_preset_composes_with_no_missing_value(group: str, preset: str) -> None:
    from data_prep.api import compose_prep

    raw = compose_prep(["out_dir=x", f"{group}={preset}"])[1]
    assert OmegaConf.missing_keys(raw) == set(), f"{group}={preset} leaves keys unset"
    OmegaConf.to_object(raw)  # every value has its declared type


def _value_defaults(cls: type, prefix: str = "") -> list[str]:
    """Fields of a config dataclass (recursively) that carry a value instead of MISSING."""
    found = []
    for f in fields(cls):
        if f.default_factory is not MISSING_FACTORY and is_dataclass(f.default_factory):
            found += _value_defaults(f.default_factory, f"{prefix}{f.name}.")  # a nested section
        elif f.default != MISSING or f.default_factory is not MISSING_FACTORY:
            found.append(f"{prefix}{f.name}")
    return found


def test_the_dataclasses_hold_no_value_defaults() -> None:
    from data_prep.config import PrepConfig

    assert _value_defaults(PrepConfig) == []  # every default lives in conf/
    assert "pipeline.dedup.near" in {f"pipeline.dedup.{f.name}" for f in fields(PipelineConfig().dedup)}


def test_web_spells_out_every_stage() -> None:
    raw = OmegaConf.load(REPO_ROOT / "conf" / "pipeline" / "web.yaml")
    assert set(raw.keys()) >= set(STAGE_SECTIONS)  # every stage spelled out in the published preset


def test_stage_order() -> None:
    cfg = pipeline_config("web")
    assert [s.name for s in build_stages(cfg)] == ["lang_id", "gopher_repetition", "gopher_quality", "c4",
                                                    "fineweb", "pii"]
    assert [s.name for s in build_stages(pipeline_config("code"), removed={})] == ["pii", "dedup"]


@pytest.mark.parametrize(
    ("section", "change", "key"),
    [
        ("lang_id", {"min_score": 1.5}, "pipeline.lang_id.min_score"),
        ("gopher_quality", {"min_words": 10, "max_words": 5}, "pipeline.gopher_quality.min_words"),
        ("gopher_quality", {"min_alpha_words_ratio": -0.1}, "pipeline.gopher_quality.min_alpha_words_ratio"),
        ("gopher_repetition", {"top_ngram_max_char_frac": {2: 2.0}},
         "pipeline.gopher_repetition.top_ngram_max_char_frac.2"),
        ("fineweb", {"max_short_lines": 3}, "pipeline.fineweb.max_short_lines"),
        ("blocklist", {"enabled": True}, "pipeline.blocklist"),
        ("pii", {"types": ["email", "passport"]}, "pipeline.pii.types"),
        ("pii", {"placeholders": {"email": "<E>"}}, "pipeline.pii.placeholders"),
        ("decontam", {"mode": "delete"}, "pipeline.decontam.mode"),
        ("decontam", {"enabled": True}, "pipeline.decontam.eval_paths"),
        ("dedup", {"bands": 0}, "pipeline.dedup.bands"),
    ],
)
def test_bad_values_name_their_key(section: str, change: dict, key: str) -> None:
    cfg = pipeline_config("web")
    cfg = replace(cfg, **{section: replace(getattr(cfg, section), **change)})
    with pytest.raises(ConfigError) as info:
        validate_filters(cfg)
    assert info.value.key == key


def test_junk_documents_never_crash_the_web_stages(tmp_path) -> None:
    from data_prep.document import Document, Stats
    from data_prep.stages.base import run_stages
    from data_prep.stages.dedup_signature import SignatureWriter

    junk = ["", " \n\t ", "\ud800 lone surrogate \udfff", "\x00\x01\x02" * 500, "{" * 10_000,
            "é" * 200_000, "word " * 60_000, "\n" * 5000, "🙂" * 3000, "a@b.c 1.2.3.4 ::: 0000 0000 0000 0000"]
    cfg = pipeline_config("web")
    docs = [Document(id=str(i), text=t, source="s", license="l") for i, t in enumerate(junk)]
    stats = Stats()
    kept = list(run_stages(docs, build_stages(cfg), stats))
    assert len(kept) + stats.total_rejected == len(junk)
    with SignatureWriter(tmp_path / "s.minhash.npz", cfg.dedup) as writer:
        for doc in docs:
            writer.add(doc)


def test_presets_compose_through_hydra_with_overrides() -> None:
    from hydra import compose, initialize_config_dir

    from data_prep.config import PrepConfig, register, validate

    register()
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base=None):
        raw = compose(config_name="prep", overrides=[
            "out_dir=x", "pipeline=web", "pipeline.gopher_quality.min_words=10",
            "pipeline.gopher_repetition.top_ngram_max_char_frac={2: 0.5}", "pipeline.lang_id.keep=[en,de]",
        ])
        cfg: PrepConfig = OmegaConf.to_object(raw)
        validate(cfg)
        assert cfg.pipeline.name == "web" and cfg.pipeline.gopher_quality.min_words == 10
        # dict overrides merge into the preset: one size changes, the others keep their published value
        assert cfg.pipeline.gopher_repetition.top_ngram_max_char_frac == {2: 0.5, 3: 0.18, 4: 0.16}
        assert cfg.pipeline.lang_id.keep == ["en", "de"]
        with pytest.raises(Exception, match="min_word"):
            compose(config_name="prep", overrides=["out_dir=x", "pipeline=web", "pipeline.gopher_quality.min_word=1"])
