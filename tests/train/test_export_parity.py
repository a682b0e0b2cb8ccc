"""Parity: the exported folder in transformers computes what our model computes (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch

from tests.train.configs import tool_config
from tests.train.interop_helpers import PADDED_VOCAB, stage_run, stage_runs, trained_run  # noqa: F401
from train.export import export
from train.generate import Sampling, generate_tokens
from train.load import load_run

LOGIT_TOLERANCE = 1e-4
REAL_VOCAB = 512


def _pair(run, out):
    from transformers import AutoModelForCausalLM

    export(tool_config("export", checkpoint=str(run), out=str(out), max_shard_size="200KB"))  # sharded on purpose
    ours = load_run(str(run))
    theirs = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    return ours, theirs


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
@pytest.mark.parametrize("name", ["zero3", "zero1"])  # ZeRO-3 partitions; the zero1 run ties the embeddings
def test_logits_and_greedy_generation_match_transformers(stage_runs, tmp_path, name):  # noqa: F811
    ours, theirs = _pair(stage_run(stage_runs, name), tmp_path / "hf")
    assert theirs.config.vocab_size == PADDED_VOCAB == ours.args.vocab_size
    tokens = torch.randint(0, REAL_VOCAB, (3, 96), generator=torch.Generator().manual_seed(len(name)))
    with torch.no_grad():
        diff = (ours.model(tokens) - theirs(tokens).logits).abs().max().item()
    print(f"{name}: max abs logit difference {diff:.3g}")
    assert diff < LOGIT_TOLERANCE

    eos = ours.tokenizer.eos_id
    for prompt in (tokens[0, :5], tokens[1, :17]):
        mine = generate_tokens(ours.model, prompt.tolist(), 32, Sampling(), eos_id=eos, decodable_vocab=REAL_VOCAB)[0]
        # generation_config.json supplies eos_token_id and suppress_tokens (the padding ids).
        hf = theirs.generate(prompt[None], attention_mask=torch.ones_like(prompt[None]), max_new_tokens=32,
                             do_sample=False)[0, len(prompt):].tolist()
        assert mine == hf
        assert max(mine) < REAL_VOCAB


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_trained_run_matches_transformers(trained_run, tmp_path):  # noqa: F811
    """The run made by ``python -m train`` itself (ZeRO-3, trained two steps)."""
    ours, theirs = _pair(trained_run, tmp_path / "hf")
    tokens = torch.randint(0, REAL_VOCAB, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ours.model(tokens) - theirs(tokens).logits).abs().max().item() < LOGIT_TOLERANCE
