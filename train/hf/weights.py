"""Hugging Face safetensors -> our ``Transformer``'s parameters, one tensor at a time.

Names: HF's are ours inside ``model.`` (``lm_head.weight`` is the same). Rotary layout: HF Llama,
Mistral and Qwen2 checkpoints keep q/k rows in the rotate-half order (HF's conversion scripts permute
Meta's interleaved weights into it), and our RoPE is rotate-half too, so the tensors are copied as they
are; the parity tests check this on every family. Weights of any stored dtype (bf16, fp16, fp32) are
copied into the model's fp32 parameters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import torch

from openpretrain.errors import UserError
from train.model import Transformer

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
EMBEDDING_ROWS = ("embed_tokens.weight", "lm_head.weight")
# Buffers some older HF checkpoints saved; ours are derived from the config.
_DERIVED = ("rotary_emb.inv_freq",)


def weight_files(folder: str) -> list[str]:
    """The folder's safetensors files: one ``model.safetensors``, or the shards its index names."""
    index = os.path.join(folder, INDEX_FILE)
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as fh:
                weight_map = json.load(fh)["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{index}: cannot read its weight_map: {exc}") from exc
        files = [os.path.join(folder, name) for name in sorted(set(weight_map.values()))]
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise UserError(f"{folder}: the index names {len(missing)} missing shard(s), e.g. {missing[0]}")
        return files
    single = os.path.join(folder, SINGLE_FILE)
    if os.path.isfile(single):
        return [single]
    pickles = " (pytorch_model.bin pickles are not loaded: re-save the model with safe_serialization)" \
        if os.path.exists(os.path.join(folder, "pytorch_model.bin")) else ""
    raise UserError(f"{folder}: no {SINGLE_FILE} or {INDEX_FILE}{pickles}")


def iter_hf_tensors(folder: str) -> Iterator[tuple[str, torch.Tensor]]:
    """(HF name, tensor) for every tensor of the folder, read lazily from the safetensors files."""
    from safetensors import SafetensorError, safe_open

    for path in weight_files(folder):
        try:
            with safe_open(path, framework="pt", device="cpu") as fh:
                for name in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
                    yield name, fh.get_tensor(name)
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise UserError(f"{path}: cannot read it as safetensors: {exc}") from exc


def our_name(hf_name: str) -> str | None:
    """Our parameter name for an HF tensor name; None for derived buffers we rebuild ourselves."""
    if hf_name.endswith(_DERIVED):
        return None
    return hf_name[len("model."):] if hf_name.startswith("model.") else hf_name


def _copy_rows(param: torch.Tensor, tensor: torch.Tensor) -> None:
    """Copy an embedding-shaped tensor into a parameter with at least as many rows.

    Extra rows (``model.resize_vocab_to``) start as the mean of the trained rows: a new token's logit then
    starts near the average one, so the model's distribution over the old vocabulary barely moves (random
    rows at init_std would put arbitrary mass on tokens that never occurred; Hewitt 2021).
    """
    rows = tensor.shape[0]
    param[:rows].copy_(tensor)
    if param.shape[0] > rows:
        param[rows:].copy_(tensor.float().mean(dim=0, keepdim=True).expand(param.shape[0] - rows, -1))


@torch.no_grad()
def load_hf_weights(model: Transformer, folder: str) -> None:
    """Copy the folder's weights into ``model`` (built from the folder's shape, maybe with more vocab rows)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    tied = model.args.tie_embeddings
    seen: set[str] = set()
    for hf_name, tensor in iter_hf_tensors(folder):
        name = our_name(hf_name)
        if name is None or (tied and name == "lm_head.weight"):
            continue  # tied: HF may store lm_head too, but the model uses the embedding (as HF does)
        if name not in params:
            raise UserError(f"{folder}: holds {hf_name!r}, which the model its config.json describes has not")
        param = params[name]
        resizable = name in EMBEDDING_ROWS and tensor.shape[1:] == param.shape[1:] and tensor.shape[0] <= param.shape[0]
        if tensor.shape != param.shape and not resizable:
            raise UserError(f"{folder}: {hf_name} has shape {tuple(tensor.shape)}, its config.json says "
                            f"{tuple(param.shape)}")
        if resizable:
            _copy_rows(param, tensor)
        else:
            param.copy_(tensor)
        seen.add(name)
    missing = sorted(set(params) - seen - ({"lm_head.weight"} if tied else set()))
    if missing:
        raise UserError(f"{folder}: lacks {missing[:4]}{' ...' if len(missing) > 4 else ''}")
