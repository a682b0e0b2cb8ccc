"""A Hugging Face model folder as both data_prep and train read it: its tokenizer file and special ids.

data_prep tokenizes with a folder's own tokenizer (``tokenizer=hf tokenizer.path=HF_DIR``); train checks
that data against the folder it continues from (``model.init_from``) and loads folders as checkpoints.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import Tokenizer

from openpretrain.errors import UserError

TOKENIZER_FILE = "tokenizer.json"
# Where a folder keeps its special ids, most specific first; tokenizer_config.json names tokens instead.
_ID_FILES = ("generation_config.json", "config.json")
_TOKENS_FILE = "tokenizer_config.json"


def folder_tokenizer(folder: str) -> str | None:
    path = os.path.join(folder, TOKENIZER_FILE)
    return path if os.path.isfile(path) else None


def load_tokenizer_file(path: str) -> Tokenizer:
    try:
        return Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
        raise UserError(f"tokenizer: cannot load {path}: {exc}") from exc


def _read_json(path: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it as JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _token_text(value: Any) -> str | None:
    """tokenizer_config.json writes a special token as a string or as {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def special_id(folder: str, tok: Tokenizer, which: str) -> int | None:
    """The folder's ``which`` ("eos" / "bos") id: generation_config.json, config.json, then the token named
    in tokenizer_config.json. A list of ids (several EOS) gives its first: the one a document ends with."""
    for name in _ID_FILES:
        data = _read_json(os.path.join(folder, name))
        if f"{which}_token_id" in data:
            value = data[f"{which}_token_id"]
            if isinstance(value, list):
                value = value[0] if value else None
            return None if value is None else int(value)
    token = _token_text(_read_json(os.path.join(folder, _TOKENS_FILE)).get(f"{which}_token"))
    return None if token is None else tok.token_to_id(token)


def special_token(folder: str, tok: Tokenizer, which: str) -> str | None:
    """The text of the folder's ``which`` special token (None when it has none)."""
    token_id = special_id(folder, tok, which)
    return None if token_id is None else tok.id_to_token(token_id)
