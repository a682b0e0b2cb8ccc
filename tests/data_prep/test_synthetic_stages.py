"""pipeline=synthetic stages on their own: dedup against the real corpus, the perplexity band, the
discriminator, and the real dataset's documents read back from its shards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from data_prep.api import compose_prep
from data_prep.config import validate
from data_prep.document import Document, Stats
from data_prep.sources.prepared import iter_document_texts, iter_document_tokens
from data_prep.stages.synthetic.dedup_real import RealDedupStage
from data_prep.stages.synthetic.discriminator import DiscriminatorStage
from data_prep.stages.synthetic.ppl_band import Band, PerplexityBandStage, Scorer, band_from
from tests.data_prep.synthetic_helpers import fake_texts, prepare_local, real_texts, write_jsonl


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    prepare_local(root / "real", write_jsonl(root / "real.jsonl", real_texts()))
    return root / "real"


def synthetic_cfg(out_dir, real_dir, generated, *overrides):
    cfg, _ = compose_prep([f"out_dir={out_dir}", "source=local", f"source.paths=[{generated}]", "source.synthetic=true",
                           "pipeline=synthetic", f"pipeline.real_data={real_dir}", "pipeline.ppl.enabled=false",
                           "tokenizer=file", f"tokenizer.path={real_dir}/tokenizer.json", *overrides])
    validate(cfg)
    return cfg


def doc(text: str, i: int = 0) -> Document:
    return Document(id=f"gen/{i}", text=text, source="synthetic", license="generated", synthetic=True)


def test_the_real_documents_come_back_from_the_shards_in_order(real_dir):
    texts = real_texts()
    back = list(iter_document_texts(str(real_dir)))
    # The packer drops the incomplete last sample, so the last document(s) may be cut off, never others.
    assert len(back) >= len(texts) - 2
    assert [t for _, t in back] == texts[: len(back)]
    assert len(list(iter_document_texts(str(real_dir), limit=5))) == 5
    assert all(len(tokens) > 0 for _, tokens in iter_document_tokens(str(real_dir)))


def test_dedup_real_rejects_copies_and_near_copies_of_real_documents(tmp_path, real_dir):
    generated = write_jsonl(tmp_path / "gen.jsonl", fake_texts(4))
    cfg = synthetic_cfg(tmp_path / "out", real_dir, generated)
    stage = RealDedupStage(cfg.pipeline.dedup_real, cfg)
    summary = stage.prepare()
    assert summary["real_docs"] >= 58
    stage.setup()
    real = real_texts()
    words = real[3].split()
    near = " ".join(words[:-2] + ["sentence", "water."])  # two words of 80 changed
    fresh = real_texts(1, seed=99)[0]
    stats = Stats()
    assert stage.process(doc(real[0].upper()), stats) == "exact"  # normalisation: case does not hide a copy
    assert stage.process(doc(near), stats) == "near"
    assert isinstance(stage.process(doc(fresh), stats), Document)
    assert isinstance(stage.process(doc(fake_texts(1, seed=7)[0]), stats), Document)


def test_the_discriminator_keeps_real_like_text_and_records_its_accuracy(tmp_path, real_dir):
    generated = write_jsonl(tmp_path / "gen.jsonl", fake_texts(40))
    cfg = synthetic_cfg(tmp_path / "out", real_dir, generated, "pipeline.discriminator.enabled=true",
                        "pipeline.discriminator.n_features=4096", "pipeline.discriminator.min_real_prob=0.5")
    stage = DiscriminatorStage(cfg.pipeline.discriminator, cfg)
    summary = stage.prepare()
    assert summary["generated_docs"] == 40 and summary["real_docs"] >= 58
    assert summary["heldout_accuracy"] >= 0.9  # word soup vs consonant junk: trivially separable
    stage.setup()
    stats = Stats()
    kept = stage.process(doc(real_texts(1, seed=42)[0]), stats)
    assert isinstance(kept, Document) and kept.meta["real_prob"] >= 0.5
    assert stage.process(doc(fake_texts(1, seed=42)[0]), stats) == "not_real_like"
    assert stage.prepare() == summary  # prepared once: a rerun reads the stored result


def test_band_bounds_from_real_quantiles_or_absolute_values():
    real = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    cfg = compose_prep(["out_dir=/tmp/x"])[0].pipeline.ppl  # defaults: quantiles 0.05 / 0.95, no bounds
    band = band_from(real, cfg)
    assert band.low == pytest.approx(12.0) and band.high == pytest.approx(48.0)
    cfg.min, cfg.max = 5.0, 100.0
    assert band_from(None, cfg) == Band(5.0, 100.0)
    cfg.min, cfg.max, cfg.low_quantile, cfg.high_quantile = None, None, 0.0, 1.0
    assert band_from(real, cfg) == Band(0.0, math.inf)
    assert [Band(10, 20).verdict(p) for p in (5, 15, 25)] == ["too_low", None, "too_high"]


@pytest.mark.slow  # imports torch and builds a model (~3 s)
def test_the_ppl_stage_keeps_the_band_and_rejects_both_sides(tmp_path, real_dir):
    from tokenizers import Tokenizer

    from tests.loop.tiny import tiny_model

    tokenizer = Tokenizer.from_file(str(real_dir / "tokenizer.json"))
    scorer = Scorer(tiny_model(vocab=tokenizer.get_vocab_size(), max_seq_len=64), tokenizer,
                    tokenizer.token_to_id("<|endoftext|>"), max_tokens=512, batch_size=4)
    assert scorer.max_tokens == 63  # capped by the model's context
    texts = [real_texts(1, seed=5)[0], " ".join(["the"] * 60), fake_texts(1)[0]]
    ppl = scorer.perplexities(texts)
    assert len(set(ppl)) == 3 and all(p > 1 for p in ppl)
    cfg = synthetic_cfg(tmp_path / "out", real_dir, write_jsonl(tmp_path / "g.jsonl", texts),
                        "pipeline.ppl.enabled=true", "pipeline.ppl.reference=/unused", "pipeline.ppl.min=1.0",
                        "pipeline.ppl.max=2.0")
    stage = PerplexityBandStage(cfg.pipeline.ppl, cfg)
    assert stage.prepare()["low"] == 1.0  # absolute bounds: no reference model needed to calibrate
    lo, mid, hi = sorted(ppl)
    stage.scorer, stage.band = scorer, Band((lo + mid) / 2, (mid + hi) / 2)
    verdicts = {p: stage.process(doc(t), Stats()) for p, t in zip(ppl, texts)}
    assert verdicts[lo] == "too_low" and verdicts[hi] == "too_high"
    assert isinstance(verdicts[mid], Document) and verdicts[mid].meta["ppl"] == pytest.approx(mid)
    assert stage.process(doc(""), Stats()) == "no_tokens"


def test_pipeline_synthetic_runs_its_stages_in_order(tmp_path, real_dir):
    from data_prep.stages import build_doc_stages

    cfg = synthetic_cfg(tmp_path / "out", real_dir, tmp_path / "g.jsonl", "pipeline.ppl.enabled=true",
                        "pipeline.ppl.reference=/ckpt", "pipeline.discriminator.enabled=true")
    names = [stage.name for stage in build_doc_stages(cfg)]
    # length (clean) -> repetition -> the real-corpus stages -> PII scrubbing last (it rewrites the text)
    assert names == ["clean", "gopher_repetition", "dedup_real", "ppl", "discriminator", "pii"]
    assert cfg.pipeline.pii.max_matches == -1 and cfg.pipeline.dedup.exact and cfg.pipeline.dedup.near
