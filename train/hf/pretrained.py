"""Build our ``Transformer`` from a Hugging Face model folder (or hub id): shape, then weights.

Used by training (``model.init_from``: step 0 starts from these weights) and by the loading of a model
for generate / evaluate / the memorization probe (an HF folder given as ``checkpoint=``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

from openpretrain.errors import ConfigError, UserError
from train.hf.config import CONFIG_NAME, HfShape, read_shape
from train.hf.tokenizer import check_data_tokenizer
from train.hf.weights import INDEX_FILE, SINGLE_FILE, load_hf_weights
from train.model import ModelArgs, Transformer

log = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# What a model needs from the hub: config, weights, tokenizer files. Never pickles.
_HUB_PATTERNS = ["*.json", "*.safetensors"]


def is_hf_folder(path: str) -> bool:
    """A folder with config.json and safetensors weights (our export, or a model saved by transformers)."""
    return os.path.isfile(os.path.join(path, CONFIG_NAME)) and any(
        os.path.isfile(os.path.join(path, name)) for name in (SINGLE_FILE, INDEX_FILE))


def resolve_folder(init_from: str, key: str = "model.init_from") -> str:
    """A local HF folder as an absolute path; a hub id (ORG/NAME) is fetched when the hub is reachable."""
    if os.path.isdir(init_from):
        folder = os.path.abspath(init_from)
        if not is_hf_folder(folder):
            raise UserError(f"{key}: {folder} is not a Hugging Face model folder "
                            f"(needs {CONFIG_NAME} and {SINGLE_FILE} or {INDEX_FILE})")
        return folder
    if init_from.startswith((".", "/", "~")) or not _HUB_ID.match(init_from):
        raise UserError(f"{key}: directory does not exist: {init_from}")
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(init_from, allow_patterns=_HUB_PATTERNS)
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated, network: all one line for the user
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{key}: {init_from!r} is not a local folder and the Hugging Face hub did not "
                        f"serve it ({first_line})") from exc
    log.info("%s: %s fetched from the hub into %s", key, init_from, folder)
    return folder


def init_args(shape: HfShape, resize_vocab_to: int | None) -> ModelArgs:
    """The HF shape, with more embedding rows when ``resize_vocab_to`` asks for them."""
    if not resize_vocab_to:
        return shape.args
    if resize_vocab_to < shape.args.vocab_size:
        raise UserError(f"model.resize_vocab_to: {resize_vocab_to} is below the model's {shape.args.vocab_size} "
                        "embedding rows (shrinking would drop trained rows)")
    return dataclasses.replace(shape.args, vocab_size=resize_vocab_to)


def load_pretrained(folder: str, resize_vocab_to: int | None = None) -> Transformer:
    """An fp32 ``Transformer`` holding the folder's weights (new vocab rows: the mean of the old ones)."""
    args = init_args(read_shape(folder), resize_vocab_to)
    model = Transformer(args)
    load_hf_weights(model, folder)
    return model


def init_model_args(init_from: str, resize_vocab_to: int | None, data_tokenizer: str, seq_len: int) -> ModelArgs:
    """Training's model shape under ``model.init_from``: the HF config's, checked against the data first.

    Reads config.json and the two tokenizer files only, so a mismatch is refused before any weights load.
    """
    folder = resolve_folder(init_from)
    shape = read_shape(folder)
    check_data_tokenizer(data_tokenizer, folder, shape.args.vocab_size, resize_vocab_to)
    args = init_args(shape, resize_vocab_to)
    if seq_len > args.max_seq_len:
        raise ConfigError("seq_len", f"{seq_len} exceeds the init model's context of {args.max_seq_len} tokens "
                          f"({folder}/{CONFIG_NAME})")
    return args


def load_init_weights(model: Transformer, init_from: str) -> str:
    """Step 0: copy the HF weights into the freshly built model (before DeepSpeed wraps it). Returns the folder."""
    folder = resolve_folder(init_from)
    load_hf_weights(model, folder)
    return folder
