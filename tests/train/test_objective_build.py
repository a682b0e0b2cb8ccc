"""Building an objective from the run's tokenizer: special tokens found or refused in one line; rows; state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from openpretrain.errors import UserError
from openpretrain.special_tokens import MASK, tokens_for
from train.model import ModelArgs, Transformer
from train.objectives.build import build_objective
from train.objectives.config import FimConfig, MlmConfig, ObjectiveConfig, ObjectiveName

TEXTS = ["def add(a, b):\n    return a + b\n", "the quick brown fox jumps over the lazy dog\n"] * 20


def _tokenizer(objectives: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TEXTS, trainer=trainer)
    tok.add_special_tokens(tokens_for(objectives))
    return tok


def _cfg(name: str) -> ObjectiveConfig:
    return ObjectiveConfig(ObjectiveName(name), FimConfig(0.5, 0.5), MlmConfig(0.15, 0.8, 0.1))


def _build(name: str, tok: Tokenizer):
    return build_objective(_cfg(name), 7, tok, "data/x/tokenizer.json", tok.token_to_id("<|endoftext|>"), None, -100)


@pytest.mark.parametrize("name", ["fim", "mlm"])
def test_tokenizer_without_the_special_tokens_is_refused_in_one_line(name):
    with pytest.raises(UserError) as err:
        _build(name, _tokenizer([]))
    message = str(err.value)
    assert "\n" not in message and f"objective={name}" in message
    assert f"tokenizer.objective_tokens=[{name}]" in message and "data/x/tokenizer.json" in message


def test_rows_per_objective():
    tok = _tokenizer(["fim", "mlm"])
    eos = tok.token_to_id("<|endoftext|>")
    ids = [tok.encode(t).ids + [eos] for t in TEXTS[:6]]
    flat = np.array(sum(ids, []), dtype=np.int64)
    table = np.stack([flat[:33], flat[33:66]])
    starts = [[0], [0]]
    names = ["a", "b"]
    clm = _build("clm", tok).make_rows(table, names, starts)
    assert np.array_equal(clm.inputs, table[:, :-1]) and np.array_equal(clm.targets, table[:, 1:])
    fim = _build("fim", tok)
    assert np.array_equal(fim.make_val_rows(table, names, starts).inputs, table[:, :-1])  # val stays plain text
    assert np.array_equal(fim.make_rows(table, names, starts).inputs, fim.make_rows(table, names, starts).inputs)
    mlm = _build("mlm", tok)
    assert not mlm.causal and fim.causal
    rows = mlm.make_rows(table, names, starts)
    assert rows.inputs.shape == (2, 32) and (rows.inputs == tok.token_to_id(MASK)).any() or (rows.targets != -100).any()
    assert ((rows.targets == -100) | (rows.targets == table[:, :-1])).all()
    assert eos not in rows.targets


def test_mlm_counts_and_metrics():
    tok = _tokenizer(["mlm"])
    mlm = _build("mlm", tok)
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=32, n_layers=1, n_heads=4, n_kv_heads=4, ffn_dim=64, vocab_size=384,
                                  max_seq_len=16, causal=False))
    targets = torch.full((2, 8), -100)
    targets[0, :4] = 5
    inputs = torch.randint(0, 300, (2, 8))
    loss, counts = mlm.loss(model, inputs, targets)
    logits = model(inputs)
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits[0, :4], targets[0, :4]), atol=1e-5)
    assert counts.tolist() == [float((logits[0, :4].argmax(-1) == 5).sum()), 4.0]
    assert mlm.metrics(torch.tensor([6.0, 8.0]), "val_") == {"val_masked_accuracy": 0.75, "val_masked_tokens": 8}
    assert not mlm.reports_perplexity


def test_state_refuses_switching_attention_direction():
    tok = _tokenizer(["fim", "mlm"])
    clm, fim, mlm = _build("clm", tok), _build("fim", tok), _build("mlm", tok)
    fim.load_state_dict(clm.state_dict())  # continuing a CLM run with FIM is fine
    clm.load_state_dict({})  # checkpoints from before objectives were causal LM
    with pytest.raises(UserError, match="causal and bidirectional"):
        clm.load_state_dict(mlm.state_dict())
    with pytest.raises(UserError, match="causal and bidirectional"):
        mlm.load_state_dict(fim.state_dict())
