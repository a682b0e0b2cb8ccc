"""What a run dir holds besides checkpoints: the resolved config and the tokenizer, so that export,
generate and evaluate need only the run dir (not the prepared data it trained on)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Any

from omegaconf import OmegaConf

from openpretrain.manifest import TOKENIZER_NAME, TokenizerInfo
from train.data import DataInfo

CONFIG_FILE = "config.yaml"
TOKENIZER_INFO = "tokenizer_info.json"  # the manifest's tokenizer entry: special ids, vocab size, sha256


def prepare_run_dir(run_dir: str, config: dict[str, Any], info: DataInfo) -> None:
    """Rank 0, at start: the resolved config, and a copy of the tokenizer with its manifest entry."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, CONFIG_FILE), "w", encoding="utf-8") as fh:
        fh.write(OmegaConf.to_yaml(config))
    tokenizer = info.manifests[0].tokenizer
    shutil.copyfile(info.tokenizer_path, os.path.join(run_dir, TOKENIZER_NAME))
    entry = {**dataclasses.asdict(tokenizer), "file": TOKENIZER_NAME}
    with open(os.path.join(run_dir, TOKENIZER_INFO), "w", encoding="utf-8") as fh:
        json.dump(entry, fh, indent=1)


def run_tokenizer_info(run_dir: str) -> tuple[str, TokenizerInfo] | None:
    """(tokenizer file, its manifest entry) copied into a run dir at start; None for older runs."""
    path = os.path.join(run_dir, TOKENIZER_INFO)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        entry = json.load(fh)
    return os.path.join(run_dir, TOKENIZER_NAME), TokenizerInfo(**entry)
