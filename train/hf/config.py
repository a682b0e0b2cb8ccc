"""Hugging Face ``config.json`` <-> our ``ModelArgs``, for the families whose computation ours reproduces.

Supported: ``llama`` (LlamaForCausalLM), ``mistral`` (MistralForCausalLM) and ``qwen2``
(Qwen2ForCausalLM: Llama's block plus biases on q/k/v, ``ModelArgs.qkv_bias``). Every field that would
make the HF model compute something else than ours is refused by name (rope scaling, sliding-window
attention shorter than the context, other activations, extra biases, a head_dim that is not
hidden_size / heads), so a folder that loads is a folder whose logits we reproduce.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from openpretrain.errors import UserError
from train.model import ModelArgs

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
# model_type -> the architecture name export writes back.
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}
DEFAULT_ROPE_THETA = 10000.0


@dataclass(frozen=True)
class HfShape:
    """What an HF folder's config.json says about the model: family, our args, special ids, dtype."""

    family: str
    args: ModelArgs
    bos_id: int | None
    eos_id: int | None
    dtype: str | None


def read_config(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, CONFIG_NAME)
    if not os.path.isfile(path):
        raise UserError(f"{folder}: no {CONFIG_NAME} (not a Hugging Face model folder)")
    try:
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object")
    return config


class _Refusal:
    """Collects what a config needs that we do not implement, so the user sees every reason at once."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.reasons: list[str] = []

    def check(self, ok: bool, reason: str) -> None:
        if not ok:
            self.reasons.append(reason)

    def raise_if_any(self) -> None:
        if self.reasons:
            raise UserError(f"{self.where}: not supported: {'; '.join(self.reasons)}")


def _rope_theta(config: dict[str, Any], refuse: _Refusal) -> float:
    # transformers >= 5 writes rope_parameters; 4.x wrote rope_theta plus an optional rope_scaling.
    params = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or {}
    rope_type = params.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    refuse.check(rope_type == "default", f"rope scaling type {rope_type!r} (only plain RoPE, rope_type 'default')")
    return float(params.get("rope_theta", config.get("rope_theta", DEFAULT_ROPE_THETA)))


def _max_seq_len(config: dict[str, Any], family: str, refuse: _Refusal) -> int:
    """max_position_embeddings, or a Mistral sliding window below it (within the window, attention is full)."""
    max_len = int(config.get("max_position_embeddings", 2048))
    layer_types = config.get("layer_types") or []
    refuse.check(all(t == "full_attention" for t in layer_types),
                 f"layer_types {sorted(set(layer_types))} (only full_attention layers)")
    if family == "qwen2":
        refuse.check(not config.get("use_sliding_window", False), "use_sliding_window=true (sliding-window attention)")
        return max_len
    window = config.get("sliding_window")
    if family == "mistral" and window is not None and int(window) < max_len:
        # Up to `window` tokens, sliding-window attention is causal attention: cap the context there.
        log.info("mistral sliding_window=%s < max_position_embeddings=%d: model.max_seq_len capped at %s "
                 "(sliding-window attention over longer sequences is not implemented)", window, max_len, window)
        return int(window)
    return max_len


def _first_id(value: Any) -> int | None:
    """Token ids may be an int, null or a list (several EOS ids): the first one is the one we append."""
    if isinstance(value, list):
        return int(value[0]) if value else None
    return None if value is None else int(value)


def shape_from_config(config: dict[str, Any], where: str) -> HfShape:
    """Our ModelArgs for an HF config, or one ``UserError`` naming every unsupported field."""
    refuse = _Refusal(where)
    family = config.get("model_type")
    if family not in ARCHITECTURES:
        raise UserError(f"{where}: model_type {family!r} is not supported (supported: {', '.join(ARCHITECTURES)})")
    dim, n_heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    head_dim = config.get("head_dim") or dim // n_heads
    refuse.check(head_dim * n_heads == dim, f"head_dim={head_dim} with hidden_size={dim} and {n_heads} heads "
                 "(head_dim must be hidden_size / num_attention_heads)")
    refuse.check(config.get("hidden_act", "silu") == "silu", f"hidden_act={config.get('hidden_act')!r} (only silu)")
    refuse.check(not config.get("attention_bias", False), "attention_bias=true (a bias on o_proj too)")
    refuse.check(not config.get("mlp_bias", False), "mlp_bias=true")
    refuse.check(not config.get("attention_dropout", 0.0), f"attention_dropout={config.get('attention_dropout')}")
    rope_theta = _rope_theta(config, refuse)
    max_seq_len = _max_seq_len(config, family, refuse)
    refuse.raise_if_any()
    args = ModelArgs(
        dim=dim, n_layers=int(config["num_hidden_layers"]), n_heads=n_heads,
        n_kv_heads=int(config.get("num_key_value_heads") or n_heads), ffn_dim=int(config["intermediate_size"]),
        vocab_size=int(config["vocab_size"]), max_seq_len=max_seq_len, rope_theta=rope_theta,
        norm_eps=float(config.get("rms_norm_eps", 1e-6)), tie_embeddings=bool(config.get("tie_word_embeddings", False)),
        init_std=float(config.get("initializer_range", 0.02)), qkv_bias=family == "qwen2",
    )
    return HfShape(family=family, args=args, bos_id=_first_id(config.get("bos_token_id")),
                   eos_id=_first_id(config.get("eos_token_id")), dtype=config.get("dtype") or config.get("torch_dtype"))


def read_shape(folder: str) -> HfShape:
    """The shape of the model in an HF folder (config.json only: no weights are read)."""
    try:
        return shape_from_config(read_config(folder), folder)
    except KeyError as exc:
        raise UserError(f"{folder}/{CONFIG_NAME}: lacks {exc.args[0]!r}") from exc


def family_for(args: ModelArgs) -> str:
    """The HF family an export of ``args`` is written as: q/k/v biases need Qwen2, the rest is Llama."""
    return "qwen2" if args.qkv_bias else "llama"


def to_hf_config(args: ModelArgs, bos_id: int | None, eos_id: int | None, dtype: str) -> dict[str, Any]:
    """config.json for ``args``: Llama, or Qwen2 when the q/k/v projections have biases.

    ``shape_from_config`` reads it back to the same ``args`` (the export -> init round trip).
    """
    family = family_for(args)
    theta = float(args.rope_theta)
    config: dict[str, Any] = {
        "architectures": [ARCHITECTURES[family]],
        "model_type": family,
        "vocab_size": args.vocab_size,
        "hidden_size": args.dim,
        "intermediate_size": args.ffn_dim,
        "num_hidden_layers": args.n_layers,
        "num_attention_heads": args.n_heads,
        "num_key_value_heads": args.n_kv_heads,
        "head_dim": args.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": args.max_seq_len,
        "rms_norm_eps": args.norm_eps,
        # transformers < 5 reads rope_theta; >= 5 reads rope_parameters. Same value, both written.
        "rope_theta": theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": theta},
        "tie_word_embeddings": args.tie_embeddings,
        "attention_dropout": 0.0,
        "initializer_range": args.init_std,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": None,
        "use_cache": True,
        "torch_dtype": dtype,
    }
    if family == "qwen2":
        config.update(use_sliding_window=False, sliding_window=None, max_window_layers=args.n_layers)
    else:
        config.update(attention_bias=False, mlp_bias=False)
    return config
