"""Parity, the LitGPT way: a tiny random model of each supported family, built and saved by transformers,
loads into our Transformer and computes the same logits (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch

from tests.train.hf_models import VOCAB, load_transformers, save_hf_model
from train.hf.config import read_shape
from train.hf.pretrained import load_pretrained

LOGIT_TOLERANCE = 1e-5
CASES = {
    "llama": dict(family="llama"),
    "llama_tied_sharded": dict(family="llama", tie_word_embeddings=True, max_shard_size="60KB"),
    "llama_bf16": dict(family="llama", dtype=torch.bfloat16),
    "mistral": dict(family="mistral", head_dim=16),  # its default sliding_window (4096) > the context
    "qwen2": dict(family="qwen2"),
    "qwen2_tied_sharded": dict(family="qwen2", tie_word_embeddings=True, max_shard_size="60KB"),
}


def max_logit_difference(folder, seed: int) -> float:
    ours = load_pretrained(str(folder)).eval()
    theirs = load_transformers(folder)
    tokens = torch.randint(0, VOCAB, (2, 96), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (ours(tokens) - theirs(tokens).logits).abs().max().item()


@pytest.mark.parametrize("case", list(CASES))
def test_family_loads_with_identical_logits(tmp_path, case):
    spec = dict(CASES[case])
    folder = save_hf_model(tmp_path / case, spec.pop("family"), seed=len(case), **spec)
    diff = max_logit_difference(folder, seed=len(case))
    print(f"{case}: max abs logit difference {diff:.3g}")
    assert diff <= LOGIT_TOLERANCE


def test_sharded_and_tied_folders_really_are(tmp_path):
    """The cases above exercise what their names say: several shards, no lm_head stored, q/k/v biases."""
    folder = save_hf_model(tmp_path / "m", "qwen2", tie_word_embeddings=True, max_shard_size="60KB")
    assert (folder / "model.safetensors.index.json").exists()
    assert len(list(folder.glob("model-*-of-*.safetensors"))) > 1
    args = read_shape(str(folder)).args
    assert args.tie_embeddings and args.qkv_bias
    bias = load_pretrained(str(folder)).layers[0].self_attn.q_proj.bias
    assert bias is not None and bias.abs().sum() > 0


def test_a_wrong_rope_theta_would_be_caught(tmp_path):
    """The check is sensitive: the same weights under another RoPE base differ far beyond the tolerance."""
    import json

    folder = save_hf_model(tmp_path / "m", "llama")
    config = json.loads((folder / "config.json").read_text())
    config["rope_parameters"]["rope_theta"] = 10000.0
    ours = load_pretrained(str(folder)).eval()
    (folder / "config.json").write_text(json.dumps(config))
    theirs = load_transformers(folder)
    tokens = torch.randint(0, VOCAB, (1, 96), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (ours(tokens) - theirs(tokens).logits).abs().max().item() > 1e-3
