"""Documents back out of a prepared dataset (Contract 2): token ids per document, by sample boundaries.

The synthetic pipeline compares generated text with the REAL corpus the model was trained on, and the
synthetic source takes its prefix prompts from it; both read the real dataset's train split here. Each
sample's ``meta.json`` names the documents inside it (``doc_ids``) and where each piece starts
(``doc_starts``); a document that spills over into the next sample continues under the same id. Pieces
are joined in shard order; a document is complete when its last piece ends with EOS (the packer drops
the incomplete tail of the last sample, so the final document of a split may be cut and is skipped).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import numpy as np
from tokenizers import Tokenizer

from openpretrain.errors import UserError
from openpretrain.manifest import META_EXT, TOKENS_EXT, Manifest, load_manifest


def _samples(manifest: Manifest, split: str) -> Iterator[tuple[np.ndarray, dict]]:
    for shard in manifest.shards_for(split):
        path = manifest.shard_path(shard)
        try:
            with tarfile.open(path) as tar:
                pending: dict[str, bytes] = {}
                for member in tar:
                    key, _, ext = member.name.partition(".")
                    pending[ext] = tar.extractfile(member).read()
                    if TOKENS_EXT in pending and META_EXT in pending:
                        yield np.load(io.BytesIO(pending[TOKENS_EXT])), json.loads(pending[META_EXT])
                        pending = {}
        except (OSError, tarfile.TarError, ValueError) as exc:
            raise UserError(f"cannot read the prepared shard {path}: {exc}") from exc


def iter_document_tokens(directory: str, split: str = "train") -> Iterator[tuple[str, np.ndarray]]:
    """(document id, token ids without the closing EOS) of every complete document of ``split``, in order."""
    manifest = load_manifest(directory)
    eos = manifest.tokenizer.eos_id
    current_id: str | None = None
    pieces: list[np.ndarray] = []
    for tokens, meta in _samples(manifest, split):
        starts = list(meta["doc_starts"]) + [len(tokens)]
        for k, doc_id in enumerate(meta["doc_ids"]):
            piece = tokens[starts[k]:starts[k + 1]]
            if doc_id != current_id:
                current_id, pieces = doc_id, []
            pieces.append(piece)
            if len(piece) and int(piece[-1]) == eos:
                yield doc_id, np.concatenate(pieces)[:-1]
                current_id, pieces = None, []


def iter_document_texts(directory: str, split: str = "train", limit: int | None = None) -> Iterator[tuple[str, str]]:
    """(document id, decoded text) of the first ``limit`` complete documents of ``split``."""
    tokenizer = Tokenizer.from_file(load_manifest(directory).tokenizer_path)
    for n, (doc_id, tokens) in enumerate(iter_document_tokens(directory, split)):
        if limit is not None and n >= limit:
            return
        yield doc_id, tokenizer.decode(tokens.tolist(), skip_special_tokens=False)
