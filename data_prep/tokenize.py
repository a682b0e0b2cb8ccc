"""The tokenizer: train a byte-level BPE on the corpus, or load a tokenizer.json / Hugging Face name.

Whatever the kind, the exact tokenizer used is written to ``OUT/tokenizer.json`` (training and generation
load that file) and its sha256 goes into the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from data_prep.config import TokenizerConfig, TokenizerKind
from openpretrain.errors import UserError
from openpretrain.manifest import TOKENIZER_NAME, TokenizerInfo, file_sha256
from openpretrain.special_tokens import tokens_for


def train_bpe(texts: Iterable[str], cfg: TokenizerConfig) -> Tokenizer:
    """Byte-level BPE (GPT-2 style): every byte is in the alphabet, so no text is ever out of vocabulary."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = [cfg.eos_token] + ([cfg.bos_token] if cfg.bos_token else [])
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def load_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    """kind=file or kind=hf; a missing file or unknown name is a one-line ``UserError``."""
    if cfg.kind == TokenizerKind.file:
        if not os.path.isfile(cfg.path or ""):
            raise UserError(f"tokenizer.path: file not found: {cfg.path}")
        try:
            return Tokenizer.from_file(cfg.path)
        except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
            raise UserError(f"tokenizer.path: cannot load {cfg.path}: {exc}") from exc
    try:
        return Tokenizer.from_pretrained(cfg.name)
    except Exception as exc:  # noqa: BLE001 - network / cache failures surface as generic errors
        raise UserError(f"tokenizer.name: cannot load {cfg.name!r} from the Hugging Face hub or cache: {exc}") from exc


def special_id(tok: Tokenizer, token: str | None, key: str) -> int | None:
    if token is None:
        return None
    token_id = tok.token_to_id(token)
    if token_id is None:
        raise UserError(f"{key}: token {token!r} is not in the tokenizer's vocabulary")
    return token_id


def add_objective_tokens(tok: Tokenizer, objectives: list[str]) -> Tokenizer:
    """Append the special tokens of ``objectives`` (fim, mlm) after the trained/loaded vocabulary.

    Appending (rather than training them in) keeps every other id and merge of the plain tokenizer.
    """
    tokens = tokens_for(list(objectives))
    if tokens:
        tok.add_special_tokens(tokens)
    return tok


def save_tokenizer(tok: Tokenizer, out_dir: str) -> str:
    """Write ``OUT/tokenizer.json`` atomically; return its path."""
    path = os.path.join(out_dir, TOKENIZER_NAME)
    tmp = f"{path}.tmp{os.getpid()}"
    tok.save(tmp)
    os.replace(tmp, path)
    return path


def tokenizer_info(tok: Tokenizer, cfg: TokenizerConfig, path: str) -> TokenizerInfo:
    return TokenizerInfo(
        file=TOKENIZER_NAME,
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        eos_id=special_id(tok, cfg.eos_token, "tokenizer.eos_token"),
        bos_id=special_id(tok, cfg.bos_token, "tokenizer.bos_token"),
        sha256=file_sha256(path),
    )
