"""``dedup_real``: reject generated documents that duplicate a document of the REAL corpus.

Regurgitated training text is the copyright / privacy risk of self-generated data, and it adds nothing.
The real dataset's train documents (decoded from its shards by document boundaries) are indexed once per
run: their exact hashes and MinHash-LSH band keys (``stages.minhash``, the same normalisation and hashing
as the whole-run dedup). A generated document is rejected as ``dedup_real/exact`` when its normalised text
equals a real one, as ``dedup_real/near`` when any band key collides (estimated Jaccard around
(1/bands)^(1/rows) or more). Duplicates inside the generated batch are the whole-run dedup's job.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from data_prep.document import Document, Stats
from data_prep.sources.prepared import iter_document_texts
from data_prep.stages.base import Stage
from data_prep.stages.minhash import MinHasher, exact_hash, normalize
from data_prep.stages.synthetic.state import prepared_once, real_data, stage_dir

KEYS_FILE = "real_keys.npz"


class RealDedupStage(Stage):
    name = "dedup_real"

    def __init__(self, cfg: Any, prep_cfg: Any) -> None:
        self.cfg, self.prep_cfg = cfg, prep_cfg
        self.folder = stage_dir(prep_cfg, self.name)
        self.hasher: MinHasher | None = None
        self.band_keys: np.ndarray | None = None
        self.exact: set[tuple[int, int]] = set()

    def prepare(self) -> dict[str, Any]:
        return prepared_once(self.folder, self._index_real_corpus)

    def _index_real_corpus(self) -> dict[str, Any]:
        hasher = MinHasher(self.cfg)
        bands, exact, docs = [], [], 0
        for _, text in iter_document_texts(real_data(self.prep_cfg), "train", self.cfg.max_real_docs):
            normalized = normalize(text)
            docs += 1
            exact.append(exact_hash(normalized))
            keys = hasher.keys_of(normalized)
            if keys is not None:
                bands.append(keys)
        band_keys = np.unique(np.concatenate(bands)) if bands else np.zeros(0, np.uint64)
        exact_keys = np.array(sorted(set(exact)), dtype=np.uint64).reshape(-1, 2)
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, f"tmp{os.getpid()}-{KEYS_FILE}")
        np.savez(tmp, band_keys=band_keys, exact=exact_keys)
        os.replace(tmp, os.path.join(self.folder, KEYS_FILE))
        return {"real_docs": docs, "real_data": os.path.abspath(real_data(self.prep_cfg)),
                "ngram": self.cfg.ngram, "bands": self.cfg.bands, "rows": self.cfg.rows}

    def setup(self) -> None:
        self.prepare()  # a no-op after the run's prepare step; lets a stage be used on its own too
        with np.load(os.path.join(self.folder, KEYS_FILE)) as data:
            self.band_keys = data["band_keys"]
            self.exact = {(int(a), int(b)) for a, b in data["exact"]}
        self.hasher = MinHasher(self.cfg)

    def process(self, doc: Document, stats: Stats) -> Document | str:
        assert self.hasher is not None and self.band_keys is not None, "setup() first"
        normalized = normalize(doc.text)
        if exact_hash(normalized) in self.exact:
            return "exact"
        keys = self.hasher.keys_of(normalized)
        if keys is not None and np.isin(keys, self.band_keys, assume_unique=False).any():
            return "near"
        return doc
