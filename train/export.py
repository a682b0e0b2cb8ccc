"""``python -m train.export checkpoint=RUN_DIR[/checkpoints/step_N] out=DIR`` — a Hugging Face folder.

The folder is a ``LlamaForCausalLM`` (a ``Qwen2ForCausalLM`` when the model has q/k/v biases, e.g. a run
continued from a Qwen2 model); ``model.init_from=DIR`` and every ``checkpoint=`` take it back.

Writes ``config.json``, ``model.safetensors`` (or shards + index), ``generation_config.json``,
``tokenizer.json`` and ``tokenizer_config.json``: ``AutoModelForCausalLM.from_pretrained(DIR)`` and
``AutoTokenizer.from_pretrained(DIR)`` load it. No pickles are written.

Vocabulary: the embedding keeps its padded row count (``vocab_size`` in config.json is the padded size).
Training normalised the softmax over every padded row, so trimming them would change the model's
probabilities; instead the padding ids, which the tokenizer cannot decode, are listed in
``generation_config.json``'s ``suppress_tokens`` so that ``generate`` never picks them (ours masks them
the same way).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from openpretrain.cli import hydra_entry, to_object
from openpretrain.errors import ConfigError, UserError, require

if TYPE_CHECKING:
    from train.load import RunTokenizer
    from train.model import ModelArgs

log = logging.getLogger(__name__)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B)\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9}
_FILE_MODE = 0o644


class ExportDtype(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


@dataclass
class ExportConfig:
    checkpoint: str = MISSING  # a run dir (newest complete checkpoint) or run_dir/checkpoints/step_N
    out: str = MISSING  # the Hugging Face folder to write
    tokenizer: str | None = MISSING  # None = the run's tokenizer (from its data manifest)
    dtype: ExportDtype = MISSING
    max_shard_size: str = MISSING  # larger models are split into model-0000k-of-0000n.safetensors + index
    overwrite: bool = MISSING


def register() -> None:
    ConfigStore.instance().store(name="export_schema", node=ExportConfig)


def parse_size(text: str) -> int:
    """'5GB' -> 5e9 bytes (decimal units, as Hugging Face's max_shard_size)."""
    match = _SIZE.match(text)
    if match is None:
        raise ConfigError("max_shard_size", f"{text!r} is not a size like 500MB or 5GB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def validate(cfg: ExportConfig) -> None:
    require(bool(cfg.checkpoint), "checkpoint", "must name a run dir or a checkpoint dir")
    require(bool(cfg.out), "out", "must name the output folder")
    require(parse_size(cfg.max_shard_size) > 0, "max_shard_size", "must be > 0")


def hf_name(name: str) -> str:
    """Our tensor names are HF Llama's inside ``model.``, except the output head."""
    return name if name.startswith("lm_head.") else f"model.{name}"


def hf_config(args: ModelArgs, tok: RunTokenizer, dtype: str) -> dict:
    """LlamaForCausalLM, or Qwen2ForCausalLM for a model with q/k/v biases (train/hf/config.py)."""
    from train.hf.config import to_hf_config

    return to_hf_config(args, tok.bos_id, tok.eos_id, dtype)


def generation_config(args: ModelArgs, tok: RunTokenizer) -> dict:
    return {
        "bos_token_id": tok.bos_id,
        "eos_token_id": tok.eos_id,
        "pad_token_id": tok.eos_id,  # no pad token in pretraining; HF wants one for batched generate
        "suppress_tokens": list(range(tok.vocab_size, args.vocab_size)) or None,
    }


def tokenizer_config(args: ModelArgs, tok: RunTokenizer) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": tok.token(tok.eos_id),
        "bos_token": tok.token(tok.bos_id),
        "pad_token": None,
        "model_max_length": args.max_seq_len,
        "clean_up_tokenization_spaces": False,
    }


def _write_json(path: str, data: dict) -> None:
    # Unset values are left out, except token ids: config.json's bos_token_id: null must stay explicit,
    # or LlamaConfig falls back to its own default (1).
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({k: v for k, v in data.items() if v is not None or k.endswith("_token_id")}, fh, indent=2)
        fh.write("\n")


def write_safetensors(tensors: Iterator, out: str, max_shard_bytes: int, metadata: dict) -> list[str]:
    """Stream tensors into shards of at most ``max_shard_bytes`` (a larger single tensor gets its own)."""
    from safetensors.torch import save_file

    shards: list[dict] = []
    current: dict = {}
    size = 0
    for name, tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > max_shard_bytes:
            shards.append(_flush(current, out, len(shards), metadata, save_file))
            current, size = {}, 0
        current[name] = tensor
        size += nbytes
    if current or not shards:
        shards.append(_flush(current, out, len(shards), metadata, save_file))
    return _name_shards(shards, out)


def _flush(tensors: dict, out: str, index: int, metadata: dict, save_file) -> dict:
    path = os.path.join(out, f"shard-{index}.tmp")
    save_file(tensors, path, metadata=metadata)
    os.chmod(path, _FILE_MODE)  # safetensors creates 0600 files; a model folder is meant to be shared
    return {"tmp": path, "names": list(tensors), "bytes": sum(t.numel() * t.element_size() for t in tensors.values())}


def _name_shards(shards: list[dict], out: str) -> list[str]:
    if len(shards) == 1:
        os.replace(shards[0]["tmp"], os.path.join(out, "model.safetensors"))
        return ["model.safetensors"]
    names, weight_map = [], {}
    for i, shard in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        os.replace(shard["tmp"], os.path.join(out, name))
        names.append(name)
        weight_map.update(dict.fromkeys(shard["names"], name))
    index = {"metadata": {"total_size": sum(s["bytes"] for s in shards)}, "weight_map": weight_map}
    _write_json(os.path.join(out, "model.safetensors.index.json"), index)
    return names


def export(cfg: ExportConfig) -> str:
    import torch

    from train import load

    out = os.path.abspath(cfg.out)
    if os.path.exists(out) and os.listdir(out) and not cfg.overwrite:
        raise UserError(f"out: {out} exists and is not empty (pass overwrite=true to replace it)")
    cp = load.open_checkpoint(cfg.checkpoint)
    tok = load.run_tokenizer(cp, cfg.tokenizer)
    args = load.model_args(cp, tok)
    dtype_name = ExportDtype(cfg.dtype).value
    dtype = getattr(torch, dtype_name)

    def converted() -> Iterator:
        for name, tensor in load.checked_tensors(cp, args):
            if name == "lm_head.weight" and args.tie_embeddings:
                continue  # tied: HF re-ties lm_head to model.embed_tokens (tie_word_embeddings)
            yield hf_name(name), tensor.to(dtype).contiguous()

    # Build next to the destination and rename at the end: an interrupted export leaves no half folder.
    partial = out.rstrip("/") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    metadata = {"format": "pt", "openpretrain_checkpoint": cp.path}
    files = write_safetensors(converted(), partial, parse_size(cfg.max_shard_size), metadata)
    _write_json(os.path.join(partial, "config.json"), hf_config(args, tok, dtype_name))
    _write_json(os.path.join(partial, "generation_config.json"), generation_config(args, tok))
    _write_json(os.path.join(partial, "tokenizer_config.json"), tokenizer_config(args, tok))
    shutil.copyfile(tok.path, os.path.join(partial, "tokenizer.json"))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(partial, out)
    log.info("exported %s (%s) to %s: %s", cp.path, dtype_name, out, ", ".join(files))
    return out


register()


@hydra_entry("export")
def main(cfg: DictConfig) -> None:
    export_cfg: ExportConfig = to_object(cfg)
    validate(export_cfg)
    export(export_cfg)


if __name__ == "__main__":
    main()
