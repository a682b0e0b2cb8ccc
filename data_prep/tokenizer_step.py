"""The tokenizer every task shares: trained once on the start of the cleaned corpus, or loaded.

Each task may call this (on several machines at once): training is deterministic, the file is written
atomically, and an existing ``OUT/tokenizer.json`` is reused, so every task packs with the same ids.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

from tokenizers import Tokenizer

from data_prep.config import PrepConfig, TokenizerKind
from data_prep.document import Stats, run_stages
from data_prep.process import build_doc_stages
from data_prep.sources import build_source, to_documents
from data_prep.tokenize import (
    add_objective_tokens,
    load_tokenizer,
    save_tokenizer,
    tokenizer_info,
    train_bpe,
)
from openpretrain.errors import UserError
from openpretrain.manifest import TOKENIZER_NAME, TokenizerInfo


def training_texts(cfg: PrepConfig, stats: Stats | None = None) -> Iterator[str]:
    """The first ``tokenizer.train_docs`` documents that pass the stages (within ``max_docs``)."""
    stats = stats if stats is not None else Stats()
    source = build_source(cfg.source)
    records = source.records(None)
    if cfg.max_docs is not None:
        records = itertools.islice(records, cfg.max_docs)
    docs = run_stages(to_documents(records, cfg.source, stats), build_doc_stages(cfg), stats)
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
    objectives = list(cfg.tokenizer.objective_tokens)
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
        path = save_tokenizer(add_objective_tokens(tok, objectives), out_dir)
    else:
        path = save_tokenizer(add_objective_tokens(load_tokenizer(cfg.tokenizer), objectives), out_dir)
        tok = Tokenizer.from_file(path)
    return tok, path, tokenizer_info(tok, cfg.tokenizer, path)
