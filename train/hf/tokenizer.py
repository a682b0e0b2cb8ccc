"""The tokenizer of a Hugging Face folder, and whether training data was tokenized with it.

Continued pretraining only makes sense on data tokenized with the model's own tokenizer (``data_prep
tokenizer=hf tokenizer.path=HF_DIR``) or with an extension of it (same ids for every old token, new
tokens after them: ``model.resize_vocab_to``). Anything else would feed the model ids that mean other
tokens; it is refused from the two tokenizer files alone, before any weights are read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from openpretrain.errors import UserError
from openpretrain.hf_folder import TOKENIZER_FILE, folder_tokenizer, load_tokenizer_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VocabCheck:
    """How the data's tokenizer relates to the init model's."""

    data_size: int
    model_size: int
    extends: bool  # the data's has every model token at the same id, plus more


def compare_vocabularies(data: dict[str, int], model: dict[str, int], data_path: str, model_path: str) -> VocabCheck:
    """Same or extension, else one ``UserError`` naming the first token whose id differs."""
    for token, token_id in sorted(model.items(), key=lambda item: item[1]):
        if data.get(token) != token_id:
            where = f"id {data[token]}" if token in data else "absent"
            raise UserError(
                f"data tokenizer {data_path} ({len(data)} tokens) differs from the init model's {model_path} "
                f"({len(model)} tokens): {token!r} is id {token_id} in the model, {where} in the data; prepare "
                f"the data with tokenizer=hf tokenizer.path={os.path.dirname(model_path)}")
    return VocabCheck(data_size=len(data), model_size=len(model), extends=len(data) > len(model))


def check_data_tokenizer(data_tokenizer: str, folder: str, model_rows: int, resize_to: int | None) -> VocabCheck | None:
    """Refuse data whose tokenizer is not the init model's (or an extension that ``resize_vocab_to`` covers).

    ``model_rows``: the HF config's vocab_size (embedding rows, often padded beyond the tokenizer).
    Returns None when the folder has no tokenizer.json (only the sizes can be checked then).
    """
    data_tok = load_tokenizer_file(data_tokenizer)
    data_vocab = data_tok.get_vocab(with_added_tokens=True)
    rows = resize_to or model_rows
    model_path = folder_tokenizer(folder)
    check = None
    if model_path is None:
        log.warning("model.init_from: %s has no %s: the data's token ids cannot be checked against the model's",
                    folder, TOKENIZER_FILE)
    else:
        check = compare_vocabularies(data_vocab, load_tokenizer_file(model_path).get_vocab(with_added_tokens=True),
                                     data_tokenizer, model_path)
    needed = max(data_vocab.values()) + 1
    if needed > rows:
        grown = f"extends the model's {check.model_size} tokens to {check.data_size}" if check else \
            f"has {len(data_vocab)} tokens"
        raise UserError(f"model.resize_vocab_to: the data tokenizer {data_tokenizer} {grown}, more than the "
                        f"model's {rows} embedding rows; set model.resize_vocab_to={needed} (or more)")
    return check
