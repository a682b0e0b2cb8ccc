"""Input sources: the embedded stdlib corpus, local files, Hugging Face streaming datasets.

``build_source`` returns this task's share of the input as a resumable stream of ``RawRecord``;
``to_documents`` turns records into Documents, counting unreadable ones as ``source/<reason>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from data_prep.config import SourceConfig, SourceKind
from data_prep.document import Document, Stats
from data_prep.sources.base import SOURCE_STAGE, RawRecord, ShareByPosition, Source
from data_prep.sources.hf import HFSource
from data_prep.sources.local import FieldSpec, iter_local_file, resolve_paths
from data_prep.sources.stdlib import iter_stdlib

__all__ = ["RawRecord", "Source", "build_source", "check_source", "to_documents"]


class StdlibSource(ShareByPosition):
    def all_records(self) -> Iterator[RawRecord]:
        for record in iter_stdlib():
            record.id = f"{self.name}/{record.id}"
            yield record


class LocalSource(ShareByPosition):
    """With at least as many files as tasks, each task reads only its own files (every num_tasks-th one);
    otherwise every task reads all files and keeps its share of the records."""

    def __init__(self, cfg: SourceConfig, task_id: int, num_tasks: int) -> None:
        files = resolve_paths(list(cfg.paths))
        by_file = num_tasks > 1 and len(files) >= num_tasks
        super().__init__(cfg.name, 0 if by_file else task_id, 1 if by_file else num_tasks)
        self.files = files[task_id::num_tasks] if by_file else files
        self.fields = FieldSpec(cfg.name, cfg.text_field, cfg.id_field, cfg.url_field)

    def all_records(self) -> Iterator[RawRecord]:
        for path in self.files:
            yield from iter_local_file(path, self.fields)


def build_source(cfg: SourceConfig, task_id: int = 0, num_tasks: int = 1) -> Source:
    if cfg.kind == SourceKind.python_stdlib:
        return StdlibSource(cfg.name, task_id, num_tasks)
    if cfg.kind == SourceKind.local:
        return LocalSource(cfg, task_id, num_tasks)
    return HFSource(cfg, task_id, num_tasks)


def check_source(cfg: SourceConfig) -> None:
    """Fail at start (one line) on inputs that cannot work: missing files, empty globs."""
    if cfg.kind == SourceKind.local:
        resolve_paths(list(cfg.paths))


def to_documents(records: Iterable[RawRecord], cfg: SourceConfig, stats: Stats,
                 on_reject: Callable[[str, str], None] | None = None) -> Iterator[Document]:
    """Every record counts in ``docs_in``; broken ones are rejected as ``source/<error>``.

    ``on_reject(record id, "source/<error>")`` hears about each rejection (for the rejects files).
    """
    for record in records:
        stats.docs_in += 1
        error = record.error or ("invalid_utf8" if isinstance(record.text, bytes) else None)
        if error is None and not _encodable(record):
            error = "invalid_unicode"
        if error is not None:
            stats.reject(SOURCE_STAGE, error)
            if on_reject is not None:
                on_reject(_printable(record.id), f"{SOURCE_STAGE}/{error}")
            continue
        yield Document(id=record.id, text=record.text or "", source=cfg.name, license=cfg.license,
                       url=record.url, synthetic=cfg.synthetic)


def _encodable(record: RawRecord) -> bool:
    """False for a lone surrogate (valid in JSON, ``"\\ud800"``): UTF-8 cannot hold it, so the tokenizer,
    the shards and the rejects files could not either."""
    try:
        for value in (record.text, record.id, record.url):
            if value is not None:
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
