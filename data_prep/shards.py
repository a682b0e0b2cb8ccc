"""WebDataset tar shards, written deterministically and atomically.

Every tar header is fixed (mtime 0, uid/gid 0, no user names, mode 0644), so the same samples always give
the same bytes: a rerun after a crash reproduces a shard exactly. A shard is built in memory, written under
a temporary name and renamed; a shard that already exists with the same content is left untouched.
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

TAR_FORMAT = tarfile.USTAR_FORMAT
FILE_MODE = 0o644


def _member(name: str, payload: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = 0
    info.mode = FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def npy_bytes(tokens: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, tokens, allow_pickle=False)
    return buf.getvalue()


def meta_bytes(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_tar(shard_index: int, samples: list[tuple[np.ndarray, dict[str, Any]]]) -> tuple[bytes, list[int]]:
    """The tar's bytes and the byte offset of each sample's first member."""
    buf = io.BytesIO()
    offsets = []
    with tarfile.open(fileobj=buf, mode="w", format=TAR_FORMAT) as tar:
        for sample_index, (tokens, meta) in enumerate(samples):
            key = sample_key(shard_index, sample_index)
            offsets.append(tar.offset)
            for ext, payload in ((TOKENS_EXT, npy_bytes(tokens)), (META_EXT, meta_bytes(meta))):
                tar.addfile(_member(f"{key}.{ext}", payload), io.BytesIO(payload))
    return buf.getvalue(), offsets


def write_atomic(path: str, payload: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_shard(out_dir: str, split: str, shard_index: int,
                samples: list[tuple[np.ndarray, dict[str, Any]]]) -> ShardInfo:
    payload, offsets = build_tar(shard_index, samples)
    sha = hashlib.sha256(payload).hexdigest()
    rel = shard_name(split, shard_index)
    path = os.path.join(out_dir, rel)
    if os.path.exists(path):
        # Written before an interruption; being deterministic it must hold exactly these bytes.
        with open(path, "rb") as fh:
            if hashlib.sha256(fh.read()).hexdigest() != sha:
                raise UserError(f"{path} exists with different content: out_dir holds another run's shards")
    else:
        write_atomic(path, payload)
    tokens = sum(len(t) for t, _ in samples)
    return ShardInfo(path=rel, split=split, samples=len(samples), tokens=tokens, bytes=len(payload),
                     sha256=sha, offsets=offsets)


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
