"""Contract 2's per-shard sidecar index: where each sample of a WebDataset tar starts.

``train/shard-000007.idx`` next to ``train/shard-000007.tar`` is a ``.npy`` array of ``samples + 1``
little-endian uint64 byte offsets: the first tar header of every sample, then the end of the last
sample (where the tar's end-of-archive blocks begin), so a sample's byte range is ``[b[i], b[i + 1])``.
It keeps per-sample data out of manifest.json (which grows with shards, not samples) and is opened only
when a reader first touches its shard, memory-mapped, after its size and sha256 match the manifest.

A fixed stride instead of an index is not possible in general: ``meta.json`` (document ids and starts)
differs in length from sample to sample, and tar rounds it up to 512-byte blocks unevenly.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence

import numpy as np

INDEX_EXT = "idx"
INDEX_DTYPE = np.dtype("<u8")


class BadIndex(ValueError):
    """A sidecar index that is missing, or does not match its manifest entry or its tar."""


def index_name(shard_path: str) -> str:
    """The sidecar of ``train/shard-000007.tar`` is ``train/shard-000007.idx``."""
    stem, dot, ext = shard_path.rpartition(".")
    if not dot or ext != "tar":
        raise ValueError(f"not a shard tar name: {shard_path!r}")
    return f"{stem}.{INDEX_EXT}"


def index_payload(boundaries: Sequence[int]) -> bytes:
    """The bytes of an index file for these sample boundaries (``samples + 1`` offsets)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(boundaries, dtype=INDEX_DTYPE), allow_pickle=False)
    return buf.getvalue()


def load_index(path: str, samples: int, size: int, sha256: str, shard_bytes: int) -> np.ndarray:
    """The boundaries of ``path``, memory-mapped, after checking them against the manifest's entry.

    ``size``/``sha256``: the index file's recorded size and checksum; ``shard_bytes``: the tar's size.
    Any mismatch raises ``BadIndex`` with a one-line reason (the caller names the file).
    """
    try:
        with open(path, "rb") as fh:
            payload = fh.read(size + 1)
    except OSError as exc:
        raise BadIndex(f"cannot open ({exc.strerror})") from None
    if len(payload) != size:
        raise BadIndex(f"index has {len(payload)} bytes, manifest says {size}")
    if hashlib.sha256(payload).hexdigest() != sha256:
        raise BadIndex("index checksum differs from the manifest's")
    try:
        boundaries = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BadIndex(f"unreadable index ({exc})") from None
    _check_boundaries(boundaries, samples, shard_bytes)
    return boundaries


def _check_boundaries(boundaries: np.ndarray, samples: int, shard_bytes: int) -> None:
    if boundaries.dtype != INDEX_DTYPE or boundaries.shape != (samples + 1,):
        raise BadIndex(f"index holds {boundaries.shape} {boundaries.dtype}, expected ({samples + 1},) uint64")
    if samples and (boundaries[0] != 0 or np.any(np.diff(boundaries.astype(np.int64)) <= 0)):
        raise BadIndex("index offsets do not start at 0 and increase")
    if shard_bytes and int(boundaries[-1]) > shard_bytes:
        raise BadIndex(f"index points past the end of the shard ({int(boundaries[-1])} > {shard_bytes})")
