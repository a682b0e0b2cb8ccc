"""The one place a model config becomes ``ModelArgs`` and a model (training, export, generate, evaluate)."""

from __future__ import annotations

from typing import Any

from openpretrain.errors import ConfigError
from train.config import PerfConfig
from train.model import ModelArgs, Transformer, padded_vocab_size


def model_args(m: Any, tokenizer_vocab_size: int) -> ModelArgs:
    """From a ``ModelConfig`` (or the ``model`` node of a saved run config) and the tokenizer's vocabulary."""
    return ModelArgs(
        dim=m.dim, n_layers=m.n_layers, n_heads=m.n_heads, n_kv_heads=m.n_kv_heads, ffn_dim=m.ffn_dim,
        vocab_size=padded_vocab_size(m.vocab_size or tokenizer_vocab_size, m.pad_vocab_to or 1),
        max_seq_len=m.max_seq_len, rope_theta=m.rope_theta, norm_eps=m.norm_eps, tie_embeddings=m.tie_embeddings,
        init_std=m.init_std, qkv_bias=bool(getattr(m, "qkv_bias", False)),  # older run configs lack the key
    )


def checked_model_args(m: Any, tokenizer_vocab_size: int, seq_len: int, tokenizer_path: str | None = None) -> ModelArgs:
    """``model_args`` for training, refusing a vocabulary or context the data does not fit.

    With ``model.init_from`` the shape is the HF folder's (config.json), and the data's tokenizer is checked
    against the folder's before any weight is read.
    """
    if getattr(m, "init_from", None):
        from train.hf.pretrained import init_model_args

        return init_model_args(m.init_from, m.resize_vocab_to, tokenizer_path, seq_len)
    if m.vocab_size is not None and m.vocab_size < tokenizer_vocab_size:
        raise ConfigError("model.vocab_size", f"{m.vocab_size} is smaller than the tokenizer's {tokenizer_vocab_size}")
    if seq_len > m.max_seq_len:
        raise ConfigError("model.max_seq_len", f"{m.max_seq_len} is shorter than the training seq_len {seq_len}")
    return model_args(m, tokenizer_vocab_size)


def build_model(args: ModelArgs, perf: PerfConfig) -> Transformer:
    from train.perf import apply_model_options

    return apply_model_options(Transformer(args), perf)
