"""Documents -> token arrays (tokens + EOS in the manifest dtype), each routed to train or val."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash
from tokenizers import Tokenizer

from data_prep.config import PrepConfig
from data_prep.document import Document

HASH_SPACE = float(2**64)


def split_of(doc_id: str, val_fraction: float, seed: int) -> str:
    """train or val, decided by a hash of the document id: stable across reruns, tasks and machines."""
    if val_fraction <= 0.0:
        return "train"
    return "val" if xxhash.xxh64_intdigest(doc_id.encode("utf-8"), seed=seed) / HASH_SPACE < val_fraction else "train"


@dataclass
class ProcessedDoc:
    id: str
    source: str
    license: str
    synthetic: bool
    split: str
    n_bytes: int
    chars: int
    tokens: np.ndarray  # document tokens followed by EOS, in the manifest's token dtype


class Tokenize:
    """Documents -> ProcessedDocs (tokens + EOS in the manifest dtype, train/val split decided)."""

    def __init__(self, cfg: PrepConfig, tokenizer_path: str, eos_id: int, dtype: str) -> None:
        self.cfg = cfg
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.eos = np.array([eos_id], dtype=dtype)
        self.dtype = dtype

    def __call__(self, docs: list[Document]) -> list[ProcessedDoc]:
        encodings = self.tokenizer.encode_batch_fast([d.text for d in docs], add_special_tokens=False)
        out = []
        for doc, enc in zip(docs, encodings):
            tokens = np.concatenate([np.asarray(enc.ids, dtype=self.dtype), self.eos])
            out.append(ProcessedDoc(
                id=doc.id, source=doc.source, license=doc.license, synthetic=doc.synthetic,
                split=split_of(doc.id, self.cfg.val_fraction, self.cfg.seed),
                n_bytes=len(doc.text.encode("utf-8")), chars=len(doc.text), tokens=tokens,
            ))
        return out
