"""Tiny random Hugging Face models, built with transformers' own config classes and saved to a folder.

Nothing is downloaded: each family's config class describes a small model, transformers initialises it,
every parameter (biases and norms included) is then drawn at random so that a wrong name, layout or bias
shows in the logits, and ``save_pretrained`` writes the folder exactly as a published model is written.
"""

from __future__ import annotations

from pathlib import Path

import torch

FAMILIES = ("llama", "mistral", "qwen2")
VOCAB = 320
_COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5,
               bos_token_id=1, eos_token_id=2)


def hf_config(family: str, **overrides):
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[family]
    # Non-default RoPE bases, so a theta that is not carried over shows in the logits.
    theta = {"llama": 50000.0, "mistral": 1e6, "qwen2": 1e6}[family]
    return cls(**{**_COMMON, "rope_theta": theta, **overrides})


@torch.no_grad()
def randomise(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for name, param in model.named_parameters():
        noise = torch.randn(param.shape, generator=gen)
        param.copy_(1.0 + 0.1 * noise if "norm" in name else 0.08 * noise)


def save_hf_model(folder: Path, family: str, seed: int = 0, dtype: torch.dtype = torch.float32,
                  max_shard_size: str | None = None, **config_overrides) -> Path:
    """A random ``family`` model saved to ``folder`` (sharded when ``max_shard_size`` is given)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(hf_config(family, **config_overrides))
    randomise(model, seed)
    model = model.to(dtype)
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(folder, **kwargs)
    return folder


def load_transformers(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def word_tokenizer(path: Path, tokens: list[str]) -> Path:
    """A tokenizer.json whose vocabulary is exactly ``tokens`` (id = position)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token=tokens[0]))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return path
