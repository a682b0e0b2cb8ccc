"""``common_crawl``: WARC / WET files of one crawl, streamed over HTTPS from data.commoncrawl.org.

``source.crawl=CC-MAIN-2024-10`` plus either ``source.paths`` (file paths relative to the crawl's base,
e.g. ``crawl-data/CC-MAIN-2024-10/segments/.../wet/....warc.wet.gz``) or ``source.paths_file`` (a
``warc.paths`` / ``wet.paths`` listing, optionally gzipped, as Common Crawl publishes per crawl) with
``source.max_files`` to take the first N. ``source.base_url`` is ``https://data.commoncrawl.org/``;
a ``file://`` URL or a local folder reads a mirror (and is how the tests run it offline).

Files are split between tasks (file i -> task i % num_tasks). A transient network failure (HTTP
429/5xx, dropped connection, timeout: ``hf.is_retriable``) is retried with exponential backoff; the file
is reopened and the records already yielded are skipped, so nothing repeats. The position
(``{"file": i, "records": k}``) is the task's resumable state.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from data_prep.sources.base import RawRecord
from data_prep.sources.hf import is_retriable
from data_prep.sources.warc import iter_warc_stream
from openpretrain.errors import UserError

log = logging.getLogger(__name__)
HTTP_TIMEOUT_S = 60


def crawl_file_list(cfg: Any) -> list[str]:
    """The crawl's file paths from ``source.paths`` or the listing ``source.paths_file``."""
    paths = list(cfg.paths)
    if cfg.paths_file:
        opener = gzip.open if cfg.paths_file.endswith(".gz") else open
        try:
            with opener(cfg.paths_file, "rt", encoding="utf-8") as fh:
                paths.extend(line.strip() for line in fh if line.strip())
        except OSError as exc:
            raise UserError(f"source.paths_file: cannot read {cfg.paths_file}: {exc}") from exc
    if cfg.max_files is not None:
        paths = paths[: cfg.max_files]
    if not paths:
        raise UserError("source.paths / source.paths_file: no Common Crawl files listed")
    foreign = [p for p in paths if "crawl-data/" in p and f"/{cfg.crawl}/" not in p]
    if foreign:
        raise UserError(f"source.paths: {foreign[0]} is not from source.crawl={cfg.crawl}")
    return paths


def _url(base: str, path: str) -> str:
    if "://" in base:
        return base.rstrip("/") + "/" + path.lstrip("/")
    return os.path.join(base, path)


def _open_url(url: str) -> BinaryIO:
    if "://" not in url:
        return open(url, "rb")  # noqa: SIM115  (the WARC reader closes it)
    request = urllib.request.Request(url, headers={"User-Agent": "openpretrain-data_prep"})
    return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)  # noqa: S310  (https / file URLs only)


class CommonCrawlSource:
    def __init__(self, cfg: Any, task_id: int, num_tasks: int,
                 open_url: Callable[[str], BinaryIO] = _open_url, sleep: Callable[[float], None] = time.sleep):
        self.name = cfg.name
        self.cfg = cfg
        self.files = crawl_file_list(cfg)[task_id::num_tasks]
        self._open_url = open_url
        self._sleep = sleep
        self._file = 0
        self._records = 0
        self.retries = 0

    def state(self) -> dict[str, Any]:
        return {"file": self._file, "records": self._records}

    def records(self, state: dict[str, Any] | None) -> Iterator[RawRecord]:
        self._file, self._records = (int(state["file"]), int(state["records"])) if state else (0, 0)
        while self._file < len(self.files):
            yield from self._file_records(self.files[self._file])
            self._file, self._records = self._file + 1, 0

    def _file_records(self, path: str) -> Iterator[RawRecord]:
        url = _url(self.cfg.base_url, path)
        attempt = 0
        while True:
            try:
                stream = self._open_url(url)
                for record in iter_warc_stream(stream, path.endswith(".gz"), f"{self.name}/{path}#",
                                               self.cfg.max_record_bytes, skip=self._records):
                    self._records += 1
                    attempt = 0
                    yield record
                return
            except Exception as exc:  # noqa: BLE001 - classified right below
                if not is_retriable(exc) and not isinstance(exc, ConnectionError | TimeoutError):
                    if not isinstance(exc, OSError):
                        raise
                    # 404, permission denied, ...: the rest of this file is one counted rejection
                    yield RawRecord(id=f"{self.name}/{path}#{self._records + 1}", error="unreadable_file")
                    return
                attempt += 1
                if attempt > self.cfg.max_retries:
                    raise UserError(f"source {self.name}: giving up on {url} after {self.cfg.max_retries} "
                                    f"retries: {exc}") from exc
                delay = min(self.cfg.retry_backoff_s * 2 ** (attempt - 1), self.cfg.retry_max_backoff_s)
                log.warning("source %s: %s; retry %d in %.1fs", self.name, exc, attempt, delay)
                self.retries += 1
                self._sleep(delay)
