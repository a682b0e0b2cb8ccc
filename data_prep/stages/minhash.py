"""Text normalisation, exact-content hashes and MinHash-LSH band keys of one document.

Normalisation (shared by exact and near dedup): Unicode NFKD without combining marks, lower case, every
run of digits -> "0", punctuation -> space, whitespace collapsed. Shingles are word n-grams of the
normalised text. Each word is hashed once (xxh3, cached); an n-gram hash is a polynomial combination of
its word hashes, mixed by the splitmix64 finaliser. A signature holds ``bands * rows`` minima of the
universal hashes ``a*x + b`` (mod 2^64) over all shingles; each band of ``rows`` minima is hashed to one
64-bit key. Two documents are near-duplicate candidates when any band key is equal.
Everything is a pure function of the text and the seed, so tasks and machines agree.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import xxhash

from data_prep.stages.filters.config import DedupConfig

_PUNCT = re.compile(r"[^\w\s]|_")
_DIGITS = re.compile(r"\d+")
_NGRAM_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier combining word hashes into n-gram hashes
_CHUNK = 4096  # shingles per block when taking minima (bounds memory on very long documents)
_MAX_WORD_CACHE = 500_000


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    if not text.isascii():
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _DIGITS.sub("0", text.lower())
    return " ".join(_PUNCT.sub(" ", text).split())


def exact_hash(normalized: str) -> tuple[int, int]:
    """128-bit content hash of the normalised text as two unsigned 64-bit halves."""
    digest = xxhash.xxh3_128_intdigest(normalized.encode("utf-8", "surrogatepass"))
    return digest >> 64, digest & 0xFFFFFFFFFFFFFFFF


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the output (uint64 arithmetic wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class MinHasher:
    """Band keys of documents for one (ngram, bands, rows, seed) setting."""

    def __init__(self, cfg: DedupConfig) -> None:
        self.ngram, self.bands, self.rows, self.seed = cfg.ngram, cfg.bands, cfg.rows, cfg.seed
        rng = np.random.default_rng(cfg.seed)
        num = cfg.bands * cfg.rows
        self.a = rng.integers(1, 2**63, size=num, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
        self.b = rng.integers(0, 2**63, size=num, dtype=np.uint64)
        self._word_hash: dict[str, int] = {}

    def _word_hashes(self, words: list[str]) -> np.ndarray:
        cache = self._word_hash
        if len(cache) > _MAX_WORD_CACHE:
            cache.clear()
        seed = self.seed
        for word in set(words).difference(cache):
            cache[word] = xxhash.xxh3_64_intdigest(word.encode("utf-8", "surrogatepass"), seed)
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))

    def shingles(self, words: list[str]) -> np.ndarray:
        """Hashes of the word n-grams (one shingle of all words when there are fewer than n)."""
        hashes = self._word_hashes(words)
        n = min(self.ngram, len(hashes))
        if n == 0:
            return hashes
        count = len(hashes) - n + 1
        combined = hashes[:count].copy()
        for offset in range(1, n):
            combined = combined * _NGRAM_BASE + hashes[offset:offset + count]
        return np.unique(_mix(combined))

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """bands*rows minima of the permuted shingle hashes (uint64)."""
        minima = np.full(len(self.a), np.iinfo(np.uint64).max, dtype=np.uint64)
        for start in range(0, len(shingles), _CHUNK):
            block = shingles[start:start + _CHUNK, None]
            np.minimum(minima, (block * self.a + self.b).min(axis=0), out=minima)
        return minima

    def band_keys(self, signature: np.ndarray) -> np.ndarray:
        rows = signature.reshape(self.bands, self.rows)
        return np.array([xxhash.xxh3_64_intdigest(rows[b].tobytes(), b) for b in range(self.bands)],
                        dtype=np.uint64)

    def keys_of(self, normalized: str) -> np.ndarray | None:
        """Band keys of a normalised text, or None when it has no words."""
        words = normalized.split()
        if not words:
            return None
        return self.band_keys(self.signature(self.shingles(words)))
