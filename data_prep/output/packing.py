"""Packing: documents joined by EOS, cut into samples of exactly ``seq_len + 1`` tokens.

Each sample carries the document boundaries inside it (``doc_starts``: offset where each piece begins,
the first piece may continue a document from the previous sample) and the ids and sources of those
documents, so train can mask attention across documents if it wants to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Segment:
    start: int  # offset inside the pending buffer
    doc_id: str
    source: str


class Packer:
    """Accumulates token arrays; every time ``sample_len`` tokens are pending, emits one sample."""

    def __init__(self, seq_len: int, dtype: str) -> None:
        self.sample_len = seq_len + 1
        self.dtype = np.dtype(dtype)
        self._chunks: list[np.ndarray] = []
        self._segments: list[Segment] = []
        self._pending = 0

    @property
    def pending_tokens(self) -> int:
        return self._pending

    def add(self, tokens: np.ndarray, doc_id: str, source: str) -> list[tuple[np.ndarray, dict[str, Any]]]:
        """Add one document (EOS already appended); return the samples completed by it."""
        self._segments.append(Segment(self._pending, doc_id, source))
        self._chunks.append(tokens)
        self._pending += len(tokens)
        if self._pending < self.sample_len:
            return []
        buffer = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        ends = [s.start for s in self._segments[1:]] + [self._pending]
        samples = []
        pos = 0
        first = 0  # index of the first segment that reaches into the current sample
        while self._pending - pos >= self.sample_len:
            end = pos + self.sample_len
            while ends[first] <= pos:
                first += 1
            last = first
            while last + 1 < len(self._segments) and self._segments[last + 1].start < end:
                last += 1
            inside = self._segments[first : last + 1]
            meta = {
                "doc_starts": [max(s.start - pos, 0) for s in inside],
                "doc_ids": [s.doc_id for s in inside],
                "sources": [s.source for s in inside],
            }
            samples.append((buffer[pos:end], meta))
            pos = end
        while ends[first] <= pos and first + 1 < len(self._segments):
            first += 1
        rest = buffer[pos:].copy()
        kept = self._segments[first:] if len(rest) else []
        self._segments = [Segment(max(s.start - pos, 0), s.doc_id, s.source) for s in kept]
        self._chunks = [rest] if len(rest) else []
        self._pending = len(rest)
        return samples

    def state(self) -> dict[str, Any]:
        tokens = np.concatenate(self._chunks) if self._chunks else np.zeros(0, self.dtype)
        return {"tokens": tokens, "segments": [(s.start, s.doc_id, s.source) for s in self._segments]}

    def load_state(self, state: dict[str, Any]) -> None:
        tokens = state["tokens"]
        self._chunks = [tokens] if len(tokens) else []
        self._segments = [Segment(*seg) for seg in state["segments"]]
        self._pending = len(tokens)
