"""Common Crawl WARC / WET files: ``.warc``, ``.warc.gz``, ``.warc.wet``, ``.warc.wet.gz``.

Read with fastwarc (bench/warc_html.py: ~2x warcio's records/s on the same gzipped WARC, identical
records and payloads). Each WARC record becomes one RawRecord, so every record is accounted for:

- ``response`` with HTTP 200 and an HTML (or plain-text) payload -> the page's main text
  (``html_text``); other statuses -> ``source/http_status``, other payloads -> ``source/not_html``;
- ``conversion`` (WET: text already extracted by Common Crawl) -> its text;
- ``request``, ``metadata``, ``warcinfo``, ``revisit``, ... -> ``source/warc_<type>`` (not documents);
- a payload over ``max_record_bytes`` -> ``source/record_too_large`` (never decoded or parsed);
- no charset decodes it -> ``source/undecodable``; nothing left after extraction -> ``source/no_text``;
- a body shorter than its Content-Length or a gzip stream cut short -> ``source/truncated_record``;
- a file that is not a WARC -> ``source/not_warc``.

Provenance: the record's Target-URI is the document URL; ``warc_date`` and ``warc_record_id`` go into
the document's meta.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from data_prep.sources.base import RawRecord
from data_prep.sources.html_text import decode_html, extract_main_text

WARC_SUFFIXES = (".warc", ".warc.gz", ".warc.wet", ".warc.wet.gz", ".wet", ".wet.gz")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TEXT_TYPES = ("text/plain",)


def is_warc(path: str) -> bool:
    return path.endswith(WARC_SUFFIXES)


class _GzipUntilDamage:
    """A gzip stream that ends at the first damage instead of raising, and remembers it: fastwarc reads
    ahead, so an exception raised inside it would also lose the intact records before the damage."""

    def __init__(self, raw: BinaryIO) -> None:
        self._stream = gzip.GzipFile(fileobj=raw, mode="rb")
        self._raw = raw
        self.damaged = False
        self.not_gzip = False
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        chunks: list[bytes] = []
        wanted = size if size >= 0 else 1 << 62
        while wanted > 0 and not self.damaged:
            try:
                chunk = self._stream.read1(min(wanted, 1 << 16))
            except gzip.BadGzipFile:
                self.damaged = self.not_gzip = True
                break
            except (EOFError, zlib.error):
                self.damaged = True
                break
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        data = b"".join(chunks)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._stream.close()
        self._raw.close()


def iter_warc(path: str, source_name: str, max_record_bytes: int) -> Iterator[RawRecord]:
    """Records of a local WARC / WET file (gzipped when its name ends in .gz)."""
    yield from iter_warc_stream(open(path, "rb"), path.endswith(".gz"), f"{source_name}/{path}#",  # noqa: SIM115
                                max_record_bytes)


def iter_warc_stream(raw: BinaryIO, gzipped: bool, id_prefix: str, max_record_bytes: int,
                     skip: int = 0) -> Iterator[RawRecord]:
    """Records of a WARC byte stream (a file or an HTTP response), after the first ``skip``; closes it.

    Errors raised by ``raw`` itself (a dropped connection) propagate, so a caller can retry."""
    from fastwarc.warc import ArchiveIterator

    stream = _GzipUntilDamage(raw) if gzipped else raw
    position = 0
    pending: RawRecord | None = None  # held back one record: the last one before damage is the damaged one
    try:
        try:
            for record in ArchiveIterator(stream, parse_http=True):
                position += 1
                if pending is not None:
                    yield pending
                pending = _convert(record, f"{id_prefix}{position}", max_record_bytes) if position > skip else None
        except OSError as exc:
            if type(exc) is not OSError:  # a network error of the stream, not fastwarc's "Invalid WARC header"
                raise
            if pending is not None:
                yield pending
            yield RawRecord(id=f"{id_prefix}{position + 1}", error="not_warc" if position == 0 else "bad_record")
            return
        if getattr(stream, "damaged", False):
            if stream.not_gzip and position == 0:
                yield RawRecord(id=f"{id_prefix}1", error="not_warc")
            elif pending is not None and pending.error is not None:  # the cut record itself
                yield RawRecord(id=pending.id, url=pending.url, error="truncated_record")
            else:
                yield from [pending] if pending is not None else []
                yield RawRecord(id=f"{id_prefix}{position + 1}", error="truncated_record")
        elif pending is not None:
            yield pending
    finally:
        stream.close()


def _meta(record: Any) -> dict[str, Any]:
    date = record.record_date
    return {"warc_record_id": record.record_id, "warc_date": date.isoformat() if date else None}


def _convert(record: Any, rid: str, max_record_bytes: int) -> RawRecord:
    kind = str(record.record_type)
    url = record.headers.get("WARC-Target-URI")
    if kind not in ("response", "conversion"):
        return RawRecord(id=rid, url=url, error=f"warc_{kind}")
    if record.content_length > max_record_bytes:
        return RawRecord(id=rid, url=url, error="record_too_large")
    body = record.reader.read()
    if len(body) < record.content_length:
        return RawRecord(id=rid, url=url, error="truncated_record")
    if kind == "conversion":
        return _text_record(rid, url, body, None, record, is_html=False)
    if record.http_headers is None:
        return RawRecord(id=rid, url=url, error="not_http")
    if record.http_headers.status_code != 200:
        return RawRecord(id=rid, url=url, error="http_status")
    content_type = (record.http_content_type or "text/html").lower()
    if content_type not in _HTML_TYPES + _TEXT_TYPES:
        return RawRecord(id=rid, url=url, error="not_html")
    return _text_record(rid, url, body, record.http_charset, record, is_html=content_type in _HTML_TYPES)


def _text_record(rid: str, url: str | None, body: bytes, charset: str | None, record: Any,
                 is_html: bool) -> RawRecord:
    text = decode_html(body, charset)
    if text is None:
        return RawRecord(id=rid, url=url, error="undecodable")
    if is_html:
        text = extract_main_text(text)
    if not text.strip():
        return RawRecord(id=rid, url=url, error="no_text")
    return RawRecord(id=rid, text=text, url=url, meta=_meta(record))
