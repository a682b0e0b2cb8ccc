"""Planted canaries (train split only, counted, recorded in the manifest), the synthetic cap training
enforces from the manifests, and the one-line refusals of bad synthetic settings."""

from __future__ import annotations

import json
import tarfile
from collections import Counter

import pytest
from hydra import compose, initialize_config_dir

from data_prep.api import compose_prep
from data_prep.config import validate as validate_prep
from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.errors import ConfigError, UserError
from openpretrain.manifest import load_manifest
from tests.data_prep.synthetic_helpers import prepare_local, real_texts, write_jsonl
from train.config import register as register_train
from train.config import validate as validate_train
from train.data.datasets import load_datasets


def shard_doc_ids(out_dir) -> dict[str, Counter]:
    manifest = load_manifest(str(out_dir))
    seen: dict[str, Counter] = {"train": Counter(), "val": Counter()}
    previous = None
    for shard in manifest.shards:
        with tarfile.open(manifest.shard_path(shard)) as tar:
            for member in tar:
                if member.name.endswith(".meta.json"):
                    for doc_id in json.loads(tar.extractfile(member).read())["doc_ids"]:
                        if doc_id != previous:  # a document spilling into the next sample is named again there
                            seen[shard.split][doc_id] += 1
                        previous = doc_id
    return seen


def test_canaries_are_planted_in_train_only_and_recorded(tmp_path):
    jsonl = write_jsonl(tmp_path / "real.jsonl", real_texts(80, words=30))
    out = tmp_path / "out"
    prepare_local(out, jsonl, "val_fraction=0.3", "canaries.count=2", "canaries.repeats=[1,3]", "canaries.every=5")
    manifest = load_manifest(str(out))
    records = manifest.stats["canaries"]
    assert sorted((r["id"], r["repeats"]) for r in records) == [("r1-0", 1), ("r1-1", 1), ("r3-0", 3), ("r3-1", 3)]
    assert all(r["prefix"] and r["secret"] for r in records)
    assert manifest.stats["counters"]["canaries/inserted"] == 8
    stats = manifest.stats
    assert stats["docs_in"] == stats["docs_written"] + sum(stats["rejected"].values())
    assert manifest.provenance["docs_by_source"]["canaries"] == 8
    ids = shard_doc_ids(out)
    planted = Counter(i.split("/")[1] for i in ids["train"] if i.startswith("canaries/"))
    assert planted == {"r1-0": 1, "r1-1": 1, "r3-0": 3, "r3-1": 3}
    assert not [i for i in ids["val"] if i.startswith("canaries/")]
    again = tmp_path / "again"  # the same config plants the same canaries
    prepare_local(again, jsonl, "val_fraction=0.3", "canaries.count=2", "canaries.repeats=[1,3]", "canaries.every=5")
    assert load_manifest(str(again)).stats["canaries"] == records
    assert (again / "train").exists() and sorted(p.read_bytes() for p in (again / "train").iterdir()) == sorted(
        p.read_bytes() for p in (out / "train").iterdir())


def train_cfg(*overrides: str):
    register_train()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = to_object(compose("train", overrides=["run_dir=/tmp/run", *overrides]))
    validate_train(cfg)
    return cfg


@pytest.fixture(scope="module")
def real_and_synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    prepare_local(root / "real", write_jsonl(root / "real.jsonl", real_texts(40)))
    tok = root / "real" / "tokenizer.json"
    prepare_local(root / "syn", write_jsonl(root / "syn.jsonl", real_texts(20, seed=3)), "source.synthetic=true",
                  "tokenizer=file", f"tokenizer.path={tok}")
    return root / "real", root / "syn"


def test_training_computes_the_synthetic_share_from_the_manifests_and_refuses_above_the_cap(real_and_synthetic):
    real, syn = real_and_synthetic
    assert load_manifest(str(syn)).provenance["synthetic_token_share"] == 1.0
    mix = f"data.mix=[{{path: {real}, weight: 0.85}}, {{path: {syn}, weight: 0.15}}]"
    assert [d.weight for d in load_datasets(train_cfg(mix, "data.max_synthetic_share=0.2"))] == pytest.approx([0.85, 0.15])
    over = f"data.mix=[{{path: {real}, weight: 0.7}}, {{path: {syn}, weight: 0.3}}]"
    with pytest.raises(UserError, match=r"data.max_synthetic_share: the mix is 0.3000 synthetic by tokens, above the cap 0.2"):
        load_datasets(train_cfg(over, "data.max_synthetic_share=0.2"))
    assert len(load_datasets(train_cfg(over))) == 2  # no cap by default
    with pytest.raises(UserError, match="above the cap"):  # a synthetic-only dataset is a mix too
        load_datasets(train_cfg(f"data.path={syn}", "data.max_synthetic_share=0.5"))


@pytest.mark.parametrize("cap", ["0", "1.0", "-0.5", "2"])
def test_a_cap_outside_zero_one_is_one_config_error(cap):
    with pytest.raises(ConfigError) as err:
        train_cfg("data.path=/a", f"data.max_synthetic_share={cap}")
    assert err.value.key == "data.max_synthetic_share"


SYNTHETIC = ["out_dir=/tmp/x", "source=synthetic", "source.checkpoint=/ckpt", "pipeline=synthetic",
             "pipeline.real_data=/real", "pipeline.ppl.reference=/ckpt", "tokenizer=file", "tokenizer.path=/t.json"]


@pytest.mark.parametrize(("overrides", "key"), [
    (["source.checkpoint=null"], "source.checkpoint"),
    (["source.prompt=chat"], "source.prompt"),
    (["source.prompt=prefix"], "source.prompt_data"),
    (["source.num_docs=0"], "source.num_docs"),
    (["source.device=tpu"], "source.device"),
    (["tokenizer=bpe"], "tokenizer"),
    (["pipeline.real_data=null"], "pipeline.real_data"),
    (["pipeline.ppl.reference=null"], "pipeline.ppl.reference"),
    (["pipeline.ppl.low_quantile=0.9", "pipeline.ppl.high_quantile=0.1"], "pipeline.ppl.low_quantile"),
    (["pipeline.ppl.min=5", "pipeline.ppl.max=2"], "pipeline.ppl.max"),
    (["pipeline.discriminator.min_real_prob=1.5"], "pipeline.discriminator.min_real_prob"),
    (["canaries.count=1", "canaries.repeats=[1,1]"], "canaries.repeats"),
    (["canaries.every=0"], "canaries.every"),
])
def test_bad_synthetic_settings_name_the_key(overrides, key):
    cfg, _ = compose_prep([*SYNTHETIC, *overrides])
    with pytest.raises(ConfigError) as err:
        validate_prep(cfg)
    assert err.value.key == key


def test_the_contract_command_validates():
    cfg, _ = compose_prep([*SYNTHETIC, "source.num_docs=10", "source.seed=3", "source.loop_round=2",
                           "source.prompt=prefix", "source.prompt_data=/real"])
    validate_prep(cfg)
    assert cfg.source.synthetic and cfg.pipeline.dedup.near and cfg.pipeline.ppl.enabled


@pytest.mark.slow
def test_train_refuses_a_mix_above_the_cap_from_the_command_line(real_and_synthetic, tmp_path):
    from tests.conftest import run_module

    real, syn = real_and_synthetic
    proc = run_module("train", f"data.mix=[{{path: {real}, weight: 0.6}}, {{path: {syn}, weight: 0.4}}]",
                      "data.max_synthetic_share=0.2", f"run_dir={tmp_path / 'run'}", "logger.mode=disabled",
                      "max_steps=1", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "data.max_synthetic_share: the mix is 0.4000 synthetic by tokens" in errors[0]
    assert "Traceback" not in proc.stderr
