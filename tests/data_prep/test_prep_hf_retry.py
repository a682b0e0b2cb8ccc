"""hf streaming: transient failures are retried with backoff and the stream continues from its last position.

The dataset is a real ``datasets`` streaming IterableDataset over local files; only the network failure is
simulated, by a thin wrapper that raises the way a dropped connection or an HTTP 503 would.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from data_prep.config import SourceConfig, SourceKind
from data_prep.sources.hf import STATE_EVERY, HFSource, is_retriable
from openpretrain.errors import UserError
from tests.data_prep.configs import source_config

ROWS = 1000


class HTTPStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = type("Response", (), {"status_code": status})()


class FlakyStream:
    """Wraps a real IterableDataset; raises ``error`` once after ``fail_after`` rows of each listed attempt."""

    def __init__(self, path: Path, fail_after: list[int], error: Exception) -> None:
        self.path, self.fail_after, self.error = path, list(fail_after), error
        self.rows_read = 0
        self.opened = 0

    def open(self) -> FlakyStream:
        self.ds = datasets.load_dataset("json", data_files=[str(self.path)], split="train", streaming=True)
        self.limit = self.fail_after.pop(0) if self.fail_after else None
        self.opened += 1
        return self

    def load_state_dict(self, state: dict) -> None:
        self.ds.load_state_dict(state)

    def state_dict(self) -> dict:
        return self.ds.state_dict()

    def __iter__(self):
        for n, row in enumerate(self.ds):
            if self.limit is not None and n == self.limit:
                raise self.error
            self.rows_read += 1
            yield row


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hf") / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}", "id": i}) + "\n" for i in range(ROWS)))
    return path


def cfg(**kw) -> SourceConfig:
    return source_config(kind=SourceKind.hf, name="web", hub_id="json", id_field="id", max_retries=3,
                        retry_backoff_s=0.5, retry_max_backoff_s=1.0, **kw)


def test_connection_drops_resume_from_last_position(data: Path) -> None:
    stream = FlakyStream(data, fail_after=[700, 300], error=ConnectionError("connection reset by peer"))
    sleeps: list[float] = []
    source = HFSource(cfg(), 0, 1, open_dataset=stream.open, sleep=sleeps.append)
    texts = [r.text for r in source.records(None)]
    assert texts == [f"row {i}" for i in range(ROWS)]  # nothing lost, nothing repeated
    assert source.retries == 2 and sleeps == [0.5, 0.5]  # backoff resets after progress
    assert stream.opened == 3
    assert stream.rows_read < ROWS + 2 * STATE_EVERY  # continued from a snapshot, never from row 0


def test_backoff_grows_and_gives_up_with_one_line(data: Path) -> None:
    stream = FlakyStream(data, fail_after=[5, 0, 0, 0, 0], error=HTTPStatusError(503))
    sleeps: list[float] = []
    source = HFSource(cfg(), 0, 1, open_dataset=stream.open, sleep=sleeps.append)
    with pytest.raises(UserError, match="giving up after 3 retries"):
        list(source.records(None))
    assert sleeps == [0.5, 1.0, 1.0]  # doubled, capped by retry_max_backoff_s


def test_saved_state_restarts_a_new_process_where_it_stopped(data: Path) -> None:
    first = HFSource(cfg(data_files=[str(data)]), 0, 1)  # the real load_dataset path
    records = first.records(None)
    head = [next(records).text for _ in range(600)]
    state = json.loads(json.dumps(first.state()))  # what a checkpoint stores
    stream = FlakyStream(data, fail_after=[], error=ConnectionError())
    rest = [r.text for r in HFSource(cfg(), 0, 1, open_dataset=stream.open).records(state)]
    assert head + rest == [f"row {i}" for i in range(ROWS)]
    assert stream.rows_read <= ROWS - 600 + STATE_EVERY


def test_not_found_is_not_retried() -> None:
    assert is_retriable(HTTPStatusError(429)) and is_retriable(TimeoutError())
    assert not is_retriable(HTTPStatusError(404)) and not is_retriable(ValueError("bad row"))
