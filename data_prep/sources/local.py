"""``local``: jsonl, jsonl.gz, parquet, txt and WARC / WET files or globs.

Broken input never crashes a run: an undecodable line, a line that is not JSON, a record without the text
field or a truncated .gz each become a ``RawRecord`` with an ``error`` (counted as ``source/<error>``).
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from data_prep.sources.base import RawRecord
from data_prep.sources.html_text import extract_main_text
from data_prep.sources.warc import is_warc, iter_warc
from openpretrain.errors import UserError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
GZIP_SUFFIX = ".gz"
PARQUET_SUFFIX = ".parquet"
TEXT_SUFFIX = ".txt"
PARQUET_BATCH_ROWS = 1024
_GLOB_CHARS = frozenset("*?[")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class ReadOptions:
    """How formats without fields are cut into records."""

    txt_mode: str = "file"  # file: one document per file | paragraphs: blank-line separated | lines
    max_record_bytes: int = 10_000_000  # WARC payloads above this are rejected unread


def expand_paths(patterns: list[str], key: str, what: str = "file") -> list[str]:
    """Expand files and globs (sorted, de-duplicated); a missing file or an empty glob is a ``UserError``
    naming the config ``key``. Shared by every config key that takes input paths."""
    files: list[str] = []
    for pattern in patterns:
        if _GLOB_CHARS & set(pattern):
            matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not matches:
                raise UserError(f"{key}: no {what} at {pattern!r} (the glob matches no files)")
            files.extend(matches)
        elif os.path.isfile(pattern):
            files.append(pattern)
        else:
            raise UserError(f"{key}: no {what} at {pattern} (file not found)")
    return list(dict.fromkeys(files))


def resolve_paths(patterns: list[str]) -> list[str]:
    """``source.paths`` expanded, each with a format the local source can read."""
    files = expand_paths(patterns, "source.paths")
    for path in files:
        if file_format(path) is None:
            raise UserError(f"source.paths: unsupported file type {path!r} "
                            "(use .jsonl, .jsonl.gz, .parquet, .txt, .warc, .warc.gz, .warc.wet.gz)")
    return files


def file_format(path: str) -> str | None:
    if is_warc(path):
        return "warc"
    base = path[: -len(GZIP_SUFFIX)] if path.endswith(GZIP_SUFFIX) else path
    if base.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if path.endswith(PARQUET_SUFFIX):
        return "parquet"
    if base.endswith(TEXT_SUFFIX):
        return "txt"
    return None


class FieldSpec:
    """Which record fields hold the text, the upstream id and the URL; ``html``: the text field holds an
    HTML page, reduced to its main text (``html_text.extract_main_text``) — a dataset of raw pages."""

    def __init__(self, source_name: str, text_field: str, id_field: str | None, url_field: str | None,
                 html: bool = False):
        self.source_name = source_name
        self.text_field = text_field
        self.id_field = id_field
        self.url_field = url_field
        self.html = html

    def record(self, row: Any, fallback_id: str) -> RawRecord:
        if not isinstance(row, dict):
            return RawRecord(id=fallback_id, error="not_an_object")
        upstream = row.get(self.id_field) if self.id_field else None
        rid = f"{self.source_name}/{upstream}" if upstream is not None else fallback_id
        url = row.get(self.url_field) if self.url_field else None
        text = row.get(self.text_field)
        if text is None:
            return RawRecord(id=rid, url=url, error="missing_text")
        if not isinstance(text, str):
            return RawRecord(id=rid, url=url, error="text_not_string")
        if self.html:
            text = extract_main_text(text)
            if not text:
                return RawRecord(id=rid, url=url, error="no_text")
        return RawRecord(id=rid, text=text, url=url if isinstance(url, str) else None)


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.endswith(GZIP_SUFFIX) else open(path, "rb")


def iter_jsonl(path: str, fields: FieldSpec) -> Iterator[RawRecord]:
    prefix = f"{fields.source_name}/{path}#"
    line_no = 0
    try:
        with _open_binary(path) as fh:
            for line_no, raw in enumerate(fh, start=1):
                yield _jsonl_record(raw, fields, f"{prefix}{line_no}")
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        # A truncated or corrupt file: everything before the damage was used; the rest is one rejection.
        kind = "truncated_file" if isinstance(exc, EOFError | zlib.error) else "unreadable_file"
        yield RawRecord(id=f"{prefix}{line_no + 1}", error=kind)


def _jsonl_record(raw: bytes, fields: FieldSpec, rid: str) -> RawRecord:
    if not raw.strip():
        return RawRecord(id=rid, error="empty_line")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return RawRecord(id=rid, error="invalid_utf8")
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return RawRecord(id=rid, error="bad_json")
    return fields.record(row, rid)


def iter_txt(path: str, fields: FieldSpec, mode: str = "file") -> Iterator[RawRecord]:
    """A .txt file as one document, one per paragraph (blank-line separated) or one per non-blank line."""
    rid = f"{fields.source_name}/{path}"
    try:
        with _open_binary(path) as fh:
            raw = fh.read()
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError):
        yield RawRecord(id=rid, error="unreadable_file")
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        yield RawRecord(id=rid, error="invalid_utf8")
        return
    if mode == "file":
        yield RawRecord(id=rid, text=text)
        return
    pieces = _PARAGRAPH_BREAK.split(text) if mode == "paragraphs" else text.split("\n")
    for number, piece in enumerate(p for p in pieces if p.strip()):
        yield RawRecord(id=f"{rid}#{mode[0]}{number}", text=piece)


def iter_parquet(path: str, fields: FieldSpec) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    prefix = f"{fields.source_name}/{path}#"
    try:
        pfile = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        yield RawRecord(id=f"{prefix}0", error="unreadable_file")
        return
    wanted = [f for f in (fields.text_field, fields.id_field, fields.url_field) if f]
    columns = [c for c in dict.fromkeys(wanted) if c in pfile.schema_arrow.names]
    row_no = 0
    try:
        for batch in pfile.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
            for row in batch.to_pylist():
                yield fields.record(row, f"{prefix}{row_no}")
                row_no += 1
    except (pa.ArrowException, OSError):
        yield RawRecord(id=f"{prefix}{row_no}", error="unreadable_file")


def iter_local_file(path: str, fields: FieldSpec, options: ReadOptions | None = None) -> Iterator[RawRecord]:
    options = options or ReadOptions()
    kind = file_format(path)
    if kind == "txt":
        yield from iter_txt(path, fields, options.txt_mode)
    elif kind == "warc":
        yield from iter_warc(path, fields.source_name, options.max_record_bytes)
    else:
        yield from {"jsonl": iter_jsonl, "parquet": iter_parquet}[kind](path, fields)
