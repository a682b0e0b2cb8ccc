"""One random stream per (seed, objective, sample id): transforms that resume and re-shard exactly.

The stream depends on nothing else (not the rank, the step, the batch layout or the worker thread), so a
sample is transformed the same way whenever and wherever it is read.
"""

from __future__ import annotations

import hashlib

import numpy as np


def sample_rng(seed: int, objective: str, sample_id: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{objective}\0{sample_id}".encode(), digest_size=16).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, *words]))
