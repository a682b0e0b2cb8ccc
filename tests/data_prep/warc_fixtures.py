"""WARC files written with warcio for tests and benches: responses (HTML with boilerplate, other
charsets, non-200), the request records a crawler writes beside them, WET conversions, truncation."""

from __future__ import annotations

import io
from dataclasses import dataclass

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass
class HttpPage:
    url: str
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    with_request: bool = False


def _response(writer: WARCWriter, page: HttpPage) -> None:
    http = StatusAndHeaders(f"{page.status} {'OK' if page.status == 200 else 'Not Found'}",
                            [("Content-Type", page.content_type), ("Content-Length", str(len(page.body)))],
                            protocol="HTTP/1.1")
    record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body), http_headers=http)
    writer.write_record(record)


def _request(writer: WARCWriter, page: HttpPage) -> None:
    http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
    writer.write_record(writer.create_warc_record(page.url, "request", payload=io.BytesIO(b""), http_headers=http))


def write_warc(path: str, pages: list[HttpPage], gzipped: bool | None = None) -> None:
    """One response record per page (plus a request record where asked); gzip per record for .gz."""
    gz = path.endswith(".gz") if gzipped is None else gzipped
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for page in pages:
            if page.with_request:
                _request(writer, page)
            _response(writer, page)


def write_wet(path: str, docs: list[tuple[str, str]]) -> None:
    """A WET file: one ``conversion`` record of plain text per (url, text)."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=path.endswith(".gz"))
        for url, text in docs:
            record = writer.create_warc_record(url, "conversion", payload=io.BytesIO(text.encode("utf-8")),
                                               warc_content_type="text/plain")
            writer.write_record(record)


def truncate(path: str, keep_fraction: float) -> None:
    """Cut the file, as an interrupted download leaves it."""
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[: int(len(data) * keep_fraction)])


__all__ = ["HttpPage", "truncate", "write_warc", "write_wet"]
