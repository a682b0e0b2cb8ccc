"""train.generations: the fixed-prompt table a person watches in W&B (real tiny model, real tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from openpretrain.manifest import load_manifest
from train.config import GenerationsConfig
from train.generations import GENERATIONS_FILE, GenerationProbe, training_tokenizer
from train.model import ModelArgs, Transformer

pytestmark = pytest.mark.slow  # the prepared_dir fixture runs data_prep


def _probe(prepared_dir: Path, run_dir: Path, resume_step: int) -> GenerationProbe:
    manifest = load_manifest(str(prepared_dir))
    tokenizer = training_tokenizer(manifest.tokenizer_path, manifest.tokenizer)
    config = GenerationsConfig(prompts=["def ", "The "], max_new_tokens=6, temperature=0.8, top_k=50, seed=0)
    return GenerationProbe(config, tokenizer, str(run_dir), is_main=True, resume_step=resume_step)


def _model(vocab: int) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelArgs(dim=32, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=64, vocab_size=vocab,
                                 max_seq_len=64))


def test_same_weights_same_table_and_training_rng_untouched(prepared_dir: Path, tmp_path: Path) -> None:
    probe = _probe(prepared_dir, tmp_path, resume_step=0)
    model = _model(probe.tokenizer.vocab_size)
    torch.manual_seed(123)
    first = probe.sample(model, step=2)
    after = torch.rand(1)
    torch.manual_seed(123)
    assert probe.sample(model, step=4) == [{**row, "step": 4} for row in first]  # fixed seed: weights decide
    assert torch.equal(torch.rand(1), after), "sampling must not consume the training RNG"
    assert model.training
    assert probe.table_rows() == [[2, "def ", first[0]["continuation"]], [2, "The ", first[1]["continuation"]],
                                  [4, "def ", first[0]["continuation"]], [4, "The ", first[1]["continuation"]]]


def test_resume_keeps_rows_up_to_the_checkpoint(prepared_dir: Path, tmp_path: Path) -> None:
    rows = [{"step": s, "prompt": "def ", "continuation": f"x{s}"} for s in (2, 4, 6)]
    (tmp_path / GENERATIONS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    probe = _probe(prepared_dir, tmp_path, resume_step=4)  # steps 5, 6 are trained again
    assert [r["step"] for r in probe.rows] == [2, 4]
    assert [json.loads(line)["step"] for line in (tmp_path / GENERATIONS_FILE).read_text().splitlines()] == [2, 4]
