"""What every source yields: raw records (possibly broken) that become Documents or counted rejections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

SOURCE_STAGE = "source"  # prefix of the rejection counters of unreadable input


@dataclass
class RawRecord:
    """One unit of input. ``error`` names why it cannot become a document (counted as ``source/error``)."""

    id: str
    text: str | bytes | None = None  # bytes when the input was not valid UTF-8
    url: str | None = None
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # provenance (e.g. WARC date / record id, txt part)


class Source(Protocol):
    """This task's share of one input, in a deterministic order, resumable from an opaque state."""

    name: str

    def records(self, state: dict[str, Any] | None) -> Iterator[RawRecord]:
        """Yield records starting after the position ``state`` describes (None = from the start)."""
        ...

    def state(self) -> dict[str, Any]:
        """A JSON-serialisable position: passing it to ``records`` continues right after the last record."""
        ...


class ShareByPosition:
    """Task splitting for sequential inputs: task ``t`` of ``n`` takes every record with position % n == t.

    Every task reads the whole input (cheap for local files and the embedded corpus) and the split does not
    depend on file sizes, so tasks stay balanced. Resuming re-reads and skips the records already consumed.
    """

    def __init__(self, name: str, task_id: int, num_tasks: int) -> None:
        self.name = name
        self.task_id = task_id
        self.num_tasks = num_tasks
        self._consumed = 0

    def all_records(self) -> Iterator[RawRecord]:  # overridden by each source
        raise NotImplementedError

    def records(self, state: dict[str, Any] | None) -> Iterator[RawRecord]:
        skip = int(state["consumed"]) if state else 0
        self._consumed = 0
        for position, record in enumerate(self.all_records()):
            if position % self.num_tasks != self.task_id:
                continue
            if self._consumed < skip:
                self._consumed += 1
                continue
            self._consumed += 1
            yield record

    def state(self) -> dict[str, Any]:
        return {"consumed": self._consumed}
