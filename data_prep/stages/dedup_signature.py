"""Phase 1 of dedup: one signature file per task (``.npz``), written atomically when the task closes it.

A file holds, for every document the task kept: its id, the 128-bit hash of its normalised text (exact
dedup) and its MinHash band keys (near dedup), plus the settings they were computed with, so that the
cluster step can refuse files made with different settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from data_prep.document import Document
from data_prep.stages.filters.config import DedupConfig
from data_prep.stages.minhash import MinHasher, exact_hash, normalize
from openpretrain.errors import UserError

SIGNATURE_SUFFIX = ".minhash.npz"
_NO_WORDS = np.uint64(0)  # band key of documents without words: never compared (see cluster)


def settings_of(cfg: DedupConfig) -> np.ndarray:
    return np.array([cfg.ngram, cfg.bands, cfg.rows, cfg.seed], dtype=np.int64)


class SignatureWriter:
    """Collects signatures of one task's documents; ``close()`` writes ``path`` (temp name + rename)."""

    def __init__(self, path: str | Path, cfg: DedupConfig, spaced: Callable[[str], str] | None = None) -> None:
        """``spaced``: the pipeline language's word separation (Chinese shingles are jieba words)."""
        self.path = Path(path)
        self.cfg = cfg
        self.spaced = spaced
        self.hasher = MinHasher(cfg)
        self.ids: list[str] = []
        self.exact: list[tuple[int, int]] = []
        self.bands: list[np.ndarray] = []
        self.has_words: list[bool] = []
        self._empty_keys = np.zeros(cfg.bands, dtype=np.uint64)

    def add(self, doc: Document) -> None:
        normalized = normalize(doc.text)
        self.ids.append(doc.id)
        # texts with no words left after normalisation are only duplicates of the identical raw text
        self.exact.append(exact_hash(normalized or doc.text))
        if self.cfg.near and self.spaced is not None:
            normalized = normalize(self.spaced(doc.text))
        keys = self.hasher.keys_of(normalized) if self.cfg.near else None
        self.has_words.append(keys is not None)
        self.bands.append(self._empty_keys if keys is None else keys)

    def close(self) -> Path:
        return save_signatures(
            self.path, self.cfg, ids=np.array(self.ids, dtype=str),
            exact=np.array(self.exact, dtype=np.uint64).reshape(-1, 2),
            bands=np.array(self.bands, dtype=np.uint64).reshape(-1, self.cfg.bands),
            has_words=np.array(self.has_words, dtype=bool),
        )

    def __enter__(self) -> SignatureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


def save_signatures(path: str | Path, cfg: DedupConfig, ids: np.ndarray, exact: np.ndarray, bands: np.ndarray,
                    has_words: np.ndarray) -> Path:
    """One signature file (temp name + rename): ids (str), exact (n, 2) and bands (n, bands) uint64, has_words."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, ids=ids, exact=exact, bands=bands, has_words=has_words, settings=settings_of(cfg))
    os.replace(tmp, path)
    return path


def compute_signatures(docs: Iterable[Document], cfg: DedupConfig, path: str | Path) -> int:
    """Write the signature file of ``docs`` to ``path``; returns the number of documents."""
    with SignatureWriter(path, cfg) as writer:
        for doc in docs:
            writer.add(doc)
    return len(writer.ids)


def load_signatures(path: str | Path, cfg: DedupConfig) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            loaded = {key: data[key] for key in ("ids", "exact", "bands", "has_words", "settings")}
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"dedup: cannot read signature file {path}: {exc}") from exc
    if not np.array_equal(loaded["settings"], settings_of(cfg)):
        raise UserError(
            f"dedup: {path} was computed with ngram/bands/rows/seed={loaded['settings'].tolist()}, "
            f"the config says {settings_of(cfg).tolist()}; delete the signature files to recompute them"
        )
    return loaded
