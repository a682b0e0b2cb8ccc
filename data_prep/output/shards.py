"""WebDataset tar shards and their sidecar indexes, written deterministically and atomically.

Every tar header is fixed (mtime 0, uid/gid 0, no user names, mode 0644), so the same samples always give
the same bytes: a rerun after a crash reproduces a shard exactly. A shard is built in memory, written under
a temporary name and renamed; a shard that already exists with the same content is left untouched. The
index (``shard-NNNNNN.idx``, ``openpretrain.shard_index``) is written first, the same way: a tar on disk
always has its index next to it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from typing import Any

import numpy as np

from openpretrain.errors import UserError
from openpretrain.manifest import META_EXT, TOKENS_EXT, ShardInfo, sample_key, shard_name
from openpretrain.shard_index import index_name, index_payload

BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # a tar ends with two zero blocks, padded to a multiple of this
FILE_MODE = 0o644
NAME_MAX = 100  # a USTAR name field; sample keys are far shorter


def _ustar_header(name: str, size: int) -> bytes:
    """The USTAR header tarfile would write for a regular file with fixed owner, mode and mtime.

    Built by hand because tarfile spends ~50 µs per member on generic bookkeeping; the test suite checks
    the bytes are identical to tarfile's.
    """
    raw_name = name.encode("utf-8")
    if len(raw_name) > NAME_MAX:
        raise ValueError(f"tar member name longer than {NAME_MAX} bytes: {name}")
    header = bytearray(BLOCK)
    header[0 : len(raw_name)] = raw_name
    header[100:108] = b"%07o\0" % FILE_MODE
    header[108:116] = b"0000000\0"  # uid
    header[116:124] = b"0000000\0"  # gid
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"00000000000\0"  # mtime 0
    header[148:156] = b" " * 8  # checksum field counts as spaces while summing
    header[156:157] = tarfile.REGTYPE
    header[257:265] = tarfile.POSIX_MAGIC
    # devmajor/devminor stay NUL for regular files, as tarfile leaves them
    header[148:155] = b"%06o\0" % sum(header)
    return bytes(header)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


_NPY_HEADERS: dict[tuple[str, tuple[int, ...]], bytes] = {}


def npy_bytes(tokens: np.ndarray) -> bytes:
    """``np.save`` output; its header depends only on dtype and shape, so it is built once per pair."""
    key = (tokens.dtype.str, tokens.shape)
    header = _NPY_HEADERS.get(key)
    if header is None:
        buf = io.BytesIO()
        np.save(buf, np.zeros(tokens.shape, tokens.dtype), allow_pickle=False)
        header = buf.getvalue()[: -tokens.nbytes or None]
        _NPY_HEADERS[key] = header
    return header + np.ascontiguousarray(tokens).tobytes()


def meta_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_tar(shard_index: int, samples: list[tuple[np.ndarray, dict[str, Any]]]) -> tuple[bytes, list[int]]:
    """The tar's bytes and its sample boundaries: each sample's first member, then the end of the last."""
    parts: list[bytes] = []
    offsets = []
    position = 0
    for sample_index, (tokens, meta) in enumerate(samples):
        key = sample_key(shard_index, sample_index)
        offsets.append(position)
        for ext, payload in ((TOKENS_EXT, npy_bytes(tokens)), (META_EXT, meta_bytes(meta))):
            pad = _padding(len(payload))
            parts += (_ustar_header(f"{key}.{ext}", len(payload)), payload, pad)
            position += BLOCK + len(payload) + len(pad)
    offsets.append(position)
    end = position + 2 * BLOCK
    parts.append(b"\0" * (2 * BLOCK + (-end % RECORD)))
    return b"".join(parts), offsets


def write_atomic(path: str, payload: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_once(path: str, payload: bytes) -> str:
    """Write ``payload`` unless ``path`` already holds it; returns its sha256."""
    sha = hashlib.sha256(payload).hexdigest()
    if os.path.exists(path):
        # Written before an interruption; being deterministic it must hold exactly these bytes.
        with open(path, "rb") as fh:
            if hashlib.sha256(fh.read()).hexdigest() != sha:
                raise UserError(f"{path} exists with different content: out_dir holds another run's shards")
    else:
        write_atomic(path, payload)
    return sha


def write_shard(out_dir: str, split: str, shard_index: int,
                samples: list[tuple[np.ndarray, dict[str, Any]]]) -> ShardInfo:
    payload, boundaries = build_tar(shard_index, samples)
    rel = shard_name(split, shard_index)
    index_rel, index = index_name(rel), index_payload(boundaries)
    index_sha = _write_once(os.path.join(out_dir, index_rel), index)
    sha = _write_once(os.path.join(out_dir, rel), payload)
    tokens = sum(len(t) for t, _ in samples)
    return ShardInfo(path=rel, split=split, samples=len(samples), tokens=tokens, bytes=len(payload),
                     sha256=sha, index=index_rel, index_bytes=len(index), index_sha256=index_sha)


class ShardWriter:
    """Collects samples of one split and writes a shard every ``samples_per_shard`` samples.

    Shard indices run from ``first_index`` (each task owns its own range).
    """

    def __init__(self, out_dir: str, split: str, first_index: int, samples_per_shard: int) -> None:
        self.out_dir = out_dir
        self.split = split
        self.samples_per_shard = samples_per_shard
        self.next_index = first_index
        self.pending: list[tuple[np.ndarray, dict[str, Any]]] = []
        self.shards: list[ShardInfo] = []

    def add(self, tokens: np.ndarray, meta: dict[str, Any]) -> bool:
        """Queue a sample; True when it completed (and wrote) a shard."""
        self.pending.append((tokens, meta))
        if len(self.pending) < self.samples_per_shard:
            return False
        self._write()
        return True

    def flush(self) -> None:
        if self.pending:
            self._write()

    def _write(self) -> None:
        self.shards.append(write_shard(self.out_dir, self.split, self.next_index, self.pending))
        self.next_index += 1
        self.pending = []

    def state(self) -> dict[str, Any]:
        return {"next_index": self.next_index, "pending": [(t.copy(), m) for t, m in self.pending],
                "shards": [vars(s) for s in self.shards]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.next_index = state["next_index"]
        self.pending = list(state["pending"])
        self.shards = [ShardInfo(**s) for s in state["shards"]]
