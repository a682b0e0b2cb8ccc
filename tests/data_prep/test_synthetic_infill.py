"""source=synthetic prompt=infill: a span of each real document rewritten by a FIM-trained checkpoint."""

from __future__ import annotations

import json
import os

import pytest

from data_prep.api import prepare
from data_prep.sources.prepared import iter_document_texts
from openpretrain.errors import UserError
from tests.conftest import run_module
from tests.data_prep.synthetic_helpers import prepare_local, real_texts, write_jsonl

pytestmark = pytest.mark.slow

MODEL = ["model.dim=64", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2", "model.ffn_dim=128",
         "model.max_seq_len=256"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A real prepared dataset with the FIM sentinels, a 4-step FIM run and a 2-step CLM run on it."""
    root = tmp_path_factory.mktemp("synthetic_infill")
    prepare_local(root / "real", write_jsonl(root / "real.jsonl", real_texts(80, words=30)),
                  "tokenizer.objective_tokens=[fim]")
    for name, steps in (("fim", 4), ("clm", 2)):
        run_module("train", f"data.path={root / 'real'}", f"run_dir={root / name}", f"objective={name}",
                   f"max_steps={steps}", f"checkpoint_every={steps}", "eval_batches=0", "micro_batch_size=4",
                   "logger.mode=disabled", "data.num_workers=0", "optim.warmup_steps=1", *MODEL)
    return root


def _command(world, out_dir, run: str) -> list[str]:
    return [f"out_dir={out_dir}", "source=synthetic", f"source.checkpoint={world / run}", "source.num_docs=6",
            "source.docs_per_file=4", "source.batch_size=3", "source.max_new_tokens=12", "source.min_new_tokens=0",
            "source.seed=5", "source.prompt=infill", f"source.prompt_data={world / 'real'}", "tokenizer=file",
            f"tokenizer.path={world / 'real' / 'tokenizer.json'}", "seq_len=32", "progress=false",
            "source.infill_min_fraction=0.2", "source.infill_max_fraction=0.4"]


def test_infill_rewrites_a_recorded_span_of_each_real_document(world, tmp_path):
    prepare(_command(world, tmp_path / "a", "fim"))
    folder = tmp_path / "a" / "generated"
    rows = [json.loads(line) for name in sorted(os.listdir(folder)) if name.startswith("gen-")
            for line in (folder / name).read_text().splitlines()]
    real = dict(iter_document_texts(str(world / "real"), "train"))
    assert len(rows) == 6
    for row in rows:
        meta = row["meta"]
        original = real[meta["prompt_doc_id"]]
        a, b = meta["infill"]["span"]
        assert 0 < a < b <= len(original) and meta["infill"]["replaced_chars"] == b - a
        assert row["text"].startswith(original[:a]) and row["text"].endswith(original[b:])
        assert len(row["text"]) == len(original) - (b - a) + meta["infill"]["middle_chars"]
        assert meta["stop"] in ("end", "eos", "length") and meta["sampling"]["prompt"] == "infill"
    prepare(_command(world, tmp_path / "b", "fim"))  # same command, same documents
    assert (tmp_path / "b" / "generated" / "gen-000000000.jsonl").read_text() == (folder / "gen-000000000.jsonl").read_text()


def test_a_checkpoint_not_trained_with_fim_is_refused(world, tmp_path):
    with pytest.raises(UserError, match="needs a checkpoint trained with objective=fim"):
        prepare(_command(world, tmp_path / "c", "clm"))
