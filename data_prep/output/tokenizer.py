"""The tokenizer: train a byte-level BPE on the corpus, or load a tokenizer.json / a Hugging Face model's.

``kind=hf path=HF_DIR`` takes a model folder's own ``tokenizer.json`` (copied byte for byte, so its
sha256 is the folder's and continued pretraining can be checked against ``model.init_from``); the EOS
token defaults to the model's own.

Whatever the kind, the exact tokenizer used is written to ``OUT/tokenizer.json`` (training and generation
load that file) and its sha256 goes into the manifest. Every task calls ``prepare_tokenizer`` (on several
machines at once): training is deterministic, the file is written atomically, and an existing
``OUT/tokenizer.json`` is reused, so every task packs with the same ids.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from data_prep.config import PrepConfig, TokenizerConfig, TokenizerKind
from data_prep.document import Stats
from data_prep.sources import build_source
from data_prep.stages import build_doc_stages, documents
from data_prep.stages.base import run_stages, setup_stages
from openpretrain.errors import UserError
from openpretrain.hf_folder import TOKENIZER_FILE, load_tokenizer_file, special_token
from openpretrain.manifest import TOKENIZER_NAME, TokenizerInfo, file_sha256


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


def hf_tokenizer_file(cfg: TokenizerConfig) -> str:
    """kind=hf path=...: the model folder's tokenizer.json (or the path itself when it names the file)."""
    path = os.path.join(cfg.path, TOKENIZER_FILE) if os.path.isdir(cfg.path or "") else cfg.path or ""
    if not os.path.isfile(path):
        raise UserError(f"tokenizer.path: {cfg.path} holds no {TOKENIZER_FILE} (kind=hf needs a model folder "
                        "with a fast tokenizer, or the tokenizer.json itself)")
    return path


def load_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    """kind=file or kind=hf; a missing file or unknown name is a one-line ``UserError``."""
    if cfg.kind == TokenizerKind.hf and cfg.path:
        return load_tokenizer_file(hf_tokenizer_file(cfg))
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


def save_tokenizer(tok: Tokenizer, out_dir: str) -> str:
    """Write ``OUT/tokenizer.json`` atomically; return its path."""
    path = os.path.join(out_dir, TOKENIZER_NAME)
    tmp = f"{path}.tmp{os.getpid()}"
    tok.save(tmp)
    os.replace(tmp, path)
    return path


def copy_tokenizer(source: str, out_dir: str) -> str:
    """Copy a tokenizer.json byte for byte into ``OUT/tokenizer.json`` (atomically); return its path."""
    path = os.path.join(out_dir, TOKENIZER_NAME)
    tmp = f"{path}.tmp{os.getpid()}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)
    return path


def eos_token(tok: Tokenizer, cfg: TokenizerConfig) -> str:
    """``tokenizer.eos_token``, or with kind=hf and none given, the model folder's own EOS token."""
    if cfg.eos_token:
        return cfg.eos_token
    folder = cfg.path if cfg.path and os.path.isdir(cfg.path) else None
    token = special_token(folder, tok, "eos") if folder else None
    if token is None:
        raise UserError(f"tokenizer.eos_token: {cfg.path or cfg.name} names no EOS token "
                        "(generation_config.json, config.json, tokenizer_config.json); set tokenizer.eos_token=...")
    return token


def tokenizer_origin(cfg: TokenizerConfig) -> str:
    if cfg.kind == TokenizerKind.train_bpe:
        return "trained"
    if cfg.kind == TokenizerKind.file:
        return os.path.abspath(cfg.path)
    return "hf:" + (os.path.abspath(cfg.path) if cfg.path else cfg.name)


def tokenizer_info(tok: Tokenizer, cfg: TokenizerConfig, path: str) -> TokenizerInfo:
    return TokenizerInfo(
        file=TOKENIZER_NAME,
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        eos_id=special_id(tok, eos_token(tok, cfg), "tokenizer.eos_token"),
        bos_id=special_id(tok, cfg.bos_token, "tokenizer.bos_token"),
        sha256=file_sha256(path),
        origin=tokenizer_origin(cfg),
    )


def training_texts(cfg: PrepConfig, stats: Stats | None = None) -> Iterator[str]:
    """The first ``tokenizer.train_docs`` documents that pass the stages (within ``max_docs``)."""
    stats = stats if stats is not None else Stats()
    source = build_source(cfg.source)
    records = source.records(None)
    if cfg.max_docs is not None:
        records = itertools.islice(records, cfg.max_docs)
    stages = setup_stages(build_doc_stages(cfg))
    docs = run_stages(documents(records, cfg, stats), stages, stats)
    for doc in itertools.islice(docs, cfg.tokenizer.train_docs):
        yield doc.text


def _nothing_passed_message(stats: Stats, text_field: str) -> str:
    """Name the reasons, so a wrong ``source.text_field`` or an empty glob is obvious."""
    reasons = ", ".join(f"{reason} {n}" for reason, n in stats.rejected.most_common(3))
    hint = f"; is source.text_field={text_field!r} right?" if stats.rejected["source/missing_text"] else ""
    return (f"tokenizer: no document passed the stages, nothing to train the BPE on ({stats.docs_in} docs in"
            f"{', rejected: ' + reasons if reasons else ''}{hint}; see the source and pipeline settings)")


def prepare_tokenizer(cfg: PrepConfig, out_dir: str) -> tuple[Tokenizer, str, TokenizerInfo]:
    path = os.path.join(out_dir, TOKENIZER_NAME)
    if os.path.exists(path):
        tok = Tokenizer.from_file(path)
    elif cfg.tokenizer.kind == TokenizerKind.train_bpe:
        seen = [0]
        stats = Stats()

        def counted() -> Iterator[str]:
            for text in training_texts(cfg, stats):
                seen[0] += 1
                yield text

        tok = train_bpe(counted(), cfg.tokenizer)
        if not seen[0]:
            raise UserError(_nothing_passed_message(stats, cfg.source.text_field))
        path = save_tokenizer(tok, out_dir)
    elif cfg.tokenizer.kind == TokenizerKind.hf and cfg.tokenizer.path:
        load_tokenizer(cfg.tokenizer)  # a broken file fails here, in one line
        path = copy_tokenizer(hf_tokenizer_file(cfg.tokenizer), out_dir)
        tok = Tokenizer.from_file(path)
    else:
        path = save_tokenizer(load_tokenizer(cfg.tokenizer), out_dir)
        tok = Tokenizer.from_file(path)
    return tok, path, tokenizer_info(tok, cfg.tokenizer, path)
