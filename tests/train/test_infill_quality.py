"""A tiny model trained with FIM infills a held-out middle far better than the same model trained CLM-only.

Toy corpus: K documents ``COMMON + W_c`` (a shared 3-token opening, then 8 tokens specific to class c),
repeated in random order and packed with EOS like data_prep does. The probe for class c gives the
prefix ``COMMON`` and the suffix ``W_c[4:]`` and asks for the middle ``W_c[:4]``: only the suffix says
which class it is, so a causal model (prefix only) can at best guess 1 in K, a FIM model can read it.
Metric: exact-match rate of the greedy middle over the K probes (and token accuracy).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from openpretrain.special_tokens import OBJECTIVE_TOKENS
from train.batch_generate import SamplingParams
from train.generate import Sampling, generate_tokens
from train.infill import infill_batch, infill_ids
from train.model import ModelArgs, Transformer
from train.objectives.config import FimConfig, MlmConfig, ObjectiveConfig, ObjectiveName
from train.objectives.fim import FimTokens
from train.objectives.objective import FimObjective, Objective

EOS, FIM = 0, FimTokens(prefix=1, suffix=2, middle=3, end=4)
COMMON = [10, 11, 12]
K, WORD = 8, 8
SEQ_LEN = 64


def _tokenizer() -> Tokenizer:
    """Word-level ids for the toy corpus: "w10" is id 10; EOS 0 and the FIM sentinels 1-4 as in FIM above."""
    vocab = {"<|endoftext|>": EOS, **dict(zip(OBJECTIVE_TOKENS["fim"], (FIM.prefix, FIM.suffix, FIM.middle, FIM.end)))}
    vocab.update({f"w{i}": i for i in range(5, 100)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w5"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(list(vocab)[:5])
    return tok


def _text(ids: list[int]) -> str:
    return " ".join(f"w{i}" for i in ids)


def _words() -> list[list[int]]:
    rng = np.random.default_rng(0)
    return [list(20 + WORD * c + rng.permutation(WORD)) for c in range(K)]


def _packed_rows(words: list[list[int]], n_rows: int) -> tuple[np.ndarray, list[list[int]]]:
    rng = np.random.default_rng(1)
    stream, starts = [], []
    while len(stream) < n_rows * (SEQ_LEN + 1):
        starts.append(len(stream))
        stream += COMMON + words[rng.integers(K)] + [EOS]
    table = np.array(stream[: n_rows * (SEQ_LEN + 1)], dtype=np.int64).reshape(n_rows, SEQ_LEN + 1)
    row_starts = [[s - r * (SEQ_LEN + 1) for s in starts if 0 <= s - r * (SEQ_LEN + 1) <= SEQ_LEN]
                  for r in range(n_rows)]
    return table, row_starts


def _train(objective: Objective, table: np.ndarray, starts: list[list[int]], steps: int = 600) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=128, vocab_size=128,
                                  max_seq_len=SEQ_LEN))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = 16
    for step in range(steps):
        pick = [(step * batch + i) % len(table) for i in range(batch)]
        # A new sample id per epoch: each pass sees fresh FIM cuts, as a multi-epoch run does.
        ids = [f"{p}:{(step * batch + i) // len(table)}" for i, p in enumerate(pick)]
        rows = objective.make_rows(table[pick], ids, [starts[p] for p in pick])
        loss = model(torch.from_numpy(rows.inputs), targets=torch.from_numpy(rows.targets))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _score(guesses: list[list[int]], middles: list[list[int]]) -> tuple[float, float]:
    exact = np.mean([g[:len(m)] == m for g, m in zip(guesses, middles)])
    tokens = np.mean([a == b for g, m in zip(guesses, middles) for a, b in zip(g + [-1] * len(m), m)])
    return float(exact), float(tokens)


@pytest.mark.slow
def test_fim_model_infills_better_than_clm_model():
    words = _words()
    table, starts = _packed_rows(words, n_rows=128)
    cfg = ObjectiveConfig(ObjectiveName.fim, FimConfig(rate=0.5, spm_rate=0.5), MlmConfig(0.15, 0.8, 0.1))
    fim_model = _train(FimObjective(cfg, seed=0, ignore_index=-100, tokens=FIM, eos_id=EOS), table, starts)
    clm_model = _train(Objective(cfg, seed=0, ignore_index=-100), table, starts)
    middles = [w[:4] for w in words]
    greedy = Sampling(temperature=0.0)
    fim_out = [infill_ids(fim_model, COMMON, w[4:], FIM, EOS, 8, greedy, eos_id=EOS)[0] for w in words]
    clm_out = [generate_tokens(clm_model, [EOS, *COMMON], 4, greedy, eos_id=EOS)[0] for _ in words]
    fim_exact, fim_tokens = _score([ids for ids, _ in fim_out], middles)
    clm_exact, clm_tokens = _score(clm_out, middles)
    print(f"middle exact match: FIM {fim_exact:.2f} vs CLM {clm_exact:.2f}; token accuracy FIM {fim_tokens:.2f} "
          f"vs CLM {clm_tokens:.2f}")
    assert fim_exact >= 0.75, fim_out
    assert clm_exact <= 2 / K  # a causal model can only guess the class
    assert fim_tokens - clm_tokens >= 0.4
    assert sum(stop == "end" for _, stop in fim_out) >= 0.75 * K  # the middle is closed by <END>
    # The batched entry point (the loop's synthetic source) gives the same greedy middles from text.
    batched = infill_batch(fim_model, _tokenizer(), [(_text(COMMON), _text(w[4:])) for w in words],
                           SamplingParams(temperature=0.0, max_new_tokens=8), eos_id=EOS, batch_size=3)
    assert [(m.tokens, m.stop) for m in batched] == fim_out
    assert batched[0].text == " ".join(f"w{i}" for i in fim_out[0][0])
