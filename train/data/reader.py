"""Random access to one sample of a WebDataset shard by its byte offset (Contract 2's sidecar index).

A read is one ``os.pread`` of the sample's byte range, parsed with ``tarfile``: no earlier sample is
touched, so resume time does not depend on the position. A shard's index (``shard-NNNNNN.idx``) is
opened the first time the shard is read, memory-mapped, and checked against the manifest; shards never
read never have their index opened, so start-up does not grow with the number of samples. Format-1
manifests carry the offsets inline instead. Anything that does not look like the sample the
manifest promises (missing or truncated file, bad tar header, missing member, wrong key, shape, dtype or
token range) is corruption: an error naming the file, or with ``on_corrupt=skip`` a counted skip. A bad
index is corruption too; with ``on_corrupt=skip`` the reader scans the tar's headers instead.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import threading
from collections import OrderedDict

import numpy as np

from openpretrain.manifest import META_EXT, TOKENS_EXT, ShardInfo, sample_key
from openpretrain.shard_index import BadIndex, load_index
from train.data.datasets import Dataset, shard_number
from train.data.shard_check import corrupt_shard_error

log = logging.getLogger(__name__)

_OPEN_SHARDS_PER_THREAD = 64
# Indexes kept mapped (least recently loaded dropped first): one mapping each, far below vm.max_map_count.
_INDEXES_KEPT = 4096


class CorruptSample(Exception):
    """Raised inside the reader; turned into a UserError or a counted skip by ``SampleReader.read``."""


class SampleReader:
    """Reads samples of one dataset split; safe to call from several threads."""

    def __init__(self, dataset: Dataset, split: str, skip_corrupt: bool):
        self.dataset, self.split, self.skip_corrupt = dataset, split, skip_corrupt
        self.shards = dataset.shards(split)
        manifest = dataset.manifest
        self.row_len = manifest.seq_len + 1
        self.dtype = np.dtype(manifest.token_dtype)
        self.vocab_size = manifest.tokenizer.vocab_size
        self.skipped = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._boundaries: OrderedDict[int, np.ndarray] = OrderedDict()
        self._warned: set[int] = set()

    def read(self, slot: int, index: int) -> tuple[np.ndarray, list[int]] | None:
        """Tokens (``seq_len + 1`` ids) and document starts of sample ``index`` of shard ``slot``.

        None = the sample is corrupt and was skipped (``on_corrupt=skip``).
        """
        try:
            return self._read(slot, index)
        except CorruptSample as exc:
            path = self.dataset.manifest.shard_path(self.shards[slot])
            if not self.skip_corrupt:
                raise corrupt_shard_error(path, f"sample {index}: {exc}") from None
            with self._lock:
                self.skipped += 1
                first = slot not in self._warned
                self._warned.add(slot)
            if first:
                log.warning("skipping corrupt samples in %s (first: sample %d: %s)", path, index, exc)
            return None

    def _read(self, slot: int, index: int) -> tuple[np.ndarray, list[int]]:
        shard = self.shards[slot]
        fd = self._fd(slot)
        start, end = self._byte_range(slot, fd, index)
        try:
            buf = os.pread(fd, end - start, start)
        except OSError as exc:
            raise CorruptSample(f"read failed ({exc})") from None
        key = sample_key(shard_number(shard), index)
        members = _members(buf)
        tokens, meta = members.get(f"{key}.{TOKENS_EXT}"), members.get(f"{key}.{META_EXT}")
        if tokens is None or meta is None:
            raise CorruptSample(f"members {key}.{TOKENS_EXT} and {key}.{META_EXT} expected, found {sorted(members)}")
        try:
            doc_starts = [int(x) for x in json.loads(meta).get("doc_starts", [0])]
        except (ValueError, TypeError, AttributeError) as exc:
            raise CorruptSample(f"unreadable {META_EXT} ({exc})") from None
        return self._decode(tokens), doc_starts

    def _decode(self, raw: bytes) -> np.ndarray:
        try:
            array = np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise CorruptSample(f"unreadable {TOKENS_EXT} ({exc})") from None
        if array.shape != (self.row_len,) or array.dtype != self.dtype:
            raise CorruptSample(f"tokens have shape {array.shape} {array.dtype}, "
                                f"expected ({self.row_len},) {self.dtype}")
        if self.row_len and int(array.max()) >= self.vocab_size:
            raise CorruptSample(f"token id {int(array.max())} >= vocab size {self.vocab_size}")
        return array

    def _fd(self, slot: int) -> int:
        """A per-thread descriptor cache: pread needs no shared file position, eviction needs no lock."""
        cache: OrderedDict[int, int] | None = getattr(self._local, "fds", None)
        if cache is None:
            cache = self._local.fds = OrderedDict()
        fd = cache.get(slot)
        if fd is not None:
            cache.move_to_end(slot)
            return fd
        path = self.dataset.manifest.shard_path(self.shards[slot])
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CorruptSample(f"cannot open ({exc.strerror})") from None
        cache[slot] = fd
        if len(cache) > _OPEN_SHARDS_PER_THREAD:
            os.close(cache.popitem(last=False)[1])
        return fd

    def _byte_range(self, slot: int, fd: int, index: int) -> tuple[int, int]:
        shard = self.shards[slot]
        if not 0 <= index < shard.samples:
            raise CorruptSample(f"index out of range (shard holds {shard.samples} samples)")
        boundaries = self._index(slot, fd)
        if index + 1 >= len(boundaries):
            raise CorruptSample(f"shard ends after {len(boundaries) - 1} samples, manifest says {shard.samples}")
        return int(boundaries[index]), int(boundaries[index + 1])

    def loaded_indexes(self) -> list[int]:
        """Slots whose index this reader has opened (and still holds)."""
        with self._lock:
            return list(self._boundaries)

    def _index(self, slot: int, fd: int) -> np.ndarray:
        """Sample boundaries of a shard (``samples + 1`` offsets), loaded on its first read."""
        with self._lock:
            cached = self._boundaries.get(slot)
        if cached is not None:
            return cached
        shard = self.shards[slot]
        size = os.fstat(fd).st_size
        if shard.bytes and size != shard.bytes:
            # Truncated or rewritten: offsets may point anywhere. Only the samples that still parse survive.
            self._note_size_mismatch(slot, size, shard)
        boundaries = self._load_boundaries(shard, fd, size)
        with self._lock:
            self._boundaries[slot] = boundaries
            if len(self._boundaries) > _INDEXES_KEPT:
                self._boundaries.popitem(last=False)
        return boundaries

    def _load_boundaries(self, shard: ShardInfo, fd: int, size: int) -> np.ndarray:
        manifest = self.dataset.manifest
        if shard.index:
            path = manifest.index_path(shard)
            try:
                return load_index(path, shard.samples, shard.index_bytes, shard.index_sha256, shard.bytes)
            except BadIndex as exc:
                if not self.skip_corrupt:
                    raise CorruptSample(f"index {path}: {exc}") from None
                log.warning("%s: %s; reading the offsets from the tar headers instead", path, exc)
        offsets = shard.offsets or _scan_offsets(fd, size)  # format 1 inline, or the fallback scan
        return np.asarray([*offsets, size], dtype=np.int64)

    def _note_size_mismatch(self, slot: int, size: int, shard: ShardInfo) -> None:
        message = f"file has {size} bytes, manifest says {shard.bytes}"
        if not self.skip_corrupt:
            raise CorruptSample(message)
        log.warning("%s: %s", self.dataset.manifest.shard_path(shard), message)


def _members(buf: bytes) -> dict[str, bytes]:
    """Regular files in a byte range that starts at a tar header; a malformed header is corruption."""
    try:
        with tarfile.open(fileobj=io.BytesIO(buf), mode="r:") as tar:
            out = {}
            for member in tar:
                if member.isfile():
                    out[member.name] = buf[member.offset_data:member.offset_data + member.size]
            return out
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise CorruptSample(f"bad tar data ({exc})") from None


def _scan_offsets(fd: int, size: int) -> list[int]:
    """Fallback for a missing or bad index: one pass over the headers, the first member of each key."""
    offsets, seen = [], set()
    try:
        with os.fdopen(os.dup(fd), "rb") as fh, tarfile.open(fileobj=fh, mode="r:") as tar:
            for member in tar:
                key = member.name.split(".", 1)[0]
                if key not in seen:
                    seen.add(key)
                    offsets.append(member.offset)
    except (tarfile.TarError, EOFError) as exc:
        raise CorruptSample(f"bad tar data ({exc})") from None
    return offsets
