"""``hf``: ``datasets.load_dataset(..., streaming=True)`` — the path for FineWeb-Edu, C4, SlimPajama.

Network failures (HTTP 429/5xx, dropped connections, timeouts) are retried with exponential backoff and the
stream continues from the last position (``IterableDataset.state_dict``), never from zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from data_prep.sources.base import RawRecord
from data_prep.sources.local import FieldSpec
from openpretrain.errors import UserError

log = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Exception class names (from requests, aiohttp, httpx, fsspec, huggingface_hub) that mean "try again".
RETRIABLE_NAMES = frozenset({
    "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutError", "ChunkedEncodingError",
    "ClientConnectionError", "ClientPayloadError", "ServerDisconnectedError", "ClientOSError",
    "RemoteProtocolError", "ReadError", "ConnectError", "IncompleteRead", "ProtocolError",
})
STATE_EVERY = 256  # rows between two snapshots of the stream position (a snapshot costs a deepcopy)


def _status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int):
                return value
    return None


def is_retriable(exc: BaseException) -> bool:
    """True for transient network failures anywhere in the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = _status_of(current)
        if status in RETRIABLE_STATUS:
            return True
        if any(cls.__name__ in RETRIABLE_NAMES for cls in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


class HFSource:
    """This task's share of a streamed Hugging Face dataset (split by ``split_dataset_by_node``)."""

    def __init__(self, cfg: Any, task_id: int, num_tasks: int,
                 open_dataset: Callable[[], Any] | None = None, sleep: Callable[[float], None] = time.sleep):
        self.name = cfg.name
        self.cfg = cfg
        self.task_id = task_id
        self.num_tasks = num_tasks
        self.fields = FieldSpec(cfg.name, cfg.text_field, cfg.id_field, cfg.url_field,
                                html=cfg.text_format == "html")
        self._open_dataset = open_dataset or self._load
        self._sleep = sleep
        self._consumed = 0
        self._snapshot: tuple[int, dict | None] = (0, None)  # (consumed, ds.state_dict()) at that point
        self.retries = 0

    def _load(self) -> Any:
        import datasets
        from datasets.distributed import split_dataset_by_node

        ds = datasets.load_dataset(self.cfg.hub_id, self.cfg.hub_config, split=self.cfg.split, streaming=True,
                                   data_files=self.cfg.data_files)
        if self.num_tasks > 1:
            ds = split_dataset_by_node(ds, rank=self.task_id, world_size=self.num_tasks)
        return ds

    def state(self) -> dict[str, Any]:
        consumed_at, ds_state = self._snapshot
        return {"consumed": self._consumed, "snapshot_consumed": consumed_at, "ds_state": ds_state}

    def records(self, state: dict[str, Any] | None) -> Iterator[RawRecord]:
        if state:
            self._consumed = int(state["consumed"])
            self._snapshot = (int(state["snapshot_consumed"]), state["ds_state"])
        else:
            self._consumed, self._snapshot = 0, (0, None)
        attempt = 0
        while True:
            try:
                for row in self._rows_from_snapshot():
                    record = self.fields.record(row, f"{self.name}/{self.cfg.split}/{self.task_id}/{self._consumed}")
                    self._consumed += 1
                    attempt = 0
                    yield record
                return
            except Exception as exc:  # noqa: BLE001 - classified right below
                if not is_retriable(exc):
                    raise
                attempt += 1
                if attempt > self.cfg.max_retries:
                    raise UserError(f"source {self.name}: giving up after {self.cfg.max_retries} retries: {exc}") from exc
                delay = min(self.cfg.retry_backoff_s * 2 ** (attempt - 1), self.cfg.retry_max_backoff_s)
                log.warning("source %s: %s; retry %d in %.1fs", self.name, exc, attempt, delay)
                self.retries += 1
                self._sleep(delay)

    def _rows_from_snapshot(self) -> Iterator[Any]:
        """Rows after ``self._consumed``: restore the last snapshot, then skip the few rows since it."""
        consumed_at, ds_state = self._snapshot
        ds = self._open_dataset()
        if ds_state is not None:
            ds.load_state_dict(ds_state)
        to_skip = self._consumed - consumed_at
        position = consumed_at
        for row in ds:
            position += 1
            if to_skip > 0:
                to_skip -= 1
                continue
            if position % STATE_EVERY == 0:
                self._snapshot = (position, ds.state_dict())
            yield row
