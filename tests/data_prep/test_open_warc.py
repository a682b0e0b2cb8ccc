"""WARC / WET input: boilerplate gone, charsets honoured, every record accounted for, bad files counted."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
from collections import Counter
from types import SimpleNamespace

import pytest

from data_prep.sources.common_crawl import CommonCrawlSource
from data_prep.sources.html_text import decode_html, extract_main_text
from data_prep.sources.local import FieldSpec, ReadOptions, iter_local_file
from openpretrain.errors import UserError
from tests.data_prep.warc_fixtures import HttpPage, truncate, write_warc, write_wet

ARTICLE = ("Die Stadtbibliothek öffnet am Montag ihre neue Leseterrasse. Besucherinnen und Besucher können dort "
           "bei gutem Wetter lesen und arbeiten. Die Terrasse bietet Platz für vierzig Personen.")
NAV = ["Startseite", "Kontakt", "Impressum", "Datenschutz", "Anmelden"]


def page(body_text: str, title: str = "Nachrichten") -> str:
    nav = "".join(f'<li><a href="/{n}">{n}</a></li>' for n in NAV)
    return (f"<html><head><title>{title}</title></head><body><header><nav><ul>{nav}</ul></nav></header>"
            f"<main><article><h1>{title}</h1><p>{body_text}</p><p>{body_text}</p></article></main>"
            f'<footer><p>(c) 2024 Beispiel GmbH · <a href="/agb">AGB</a> · Cookie-Einstellungen</p></footer>'
            "</body></html>")


def read(path: str, **options) -> list:
    return list(iter_local_file(path, FieldSpec("cc", "text", None, None), ReadOptions(**options)))


def test_warc_pages_become_main_text_and_every_record_is_counted(tmp_path):
    path = str(tmp_path / "crawl.warc.gz")
    latin1 = page(ARTICLE).encode("iso-8859-1")
    gbk = page("北京市图书馆今天开放了新的阅览室，市民可以在这里安静地阅读和学习。", "新闻").encode("gbk")
    meta_only = page(ARTICLE).replace("<head>", '<head><meta charset="iso-8859-1">').encode("iso-8859-1")
    write_warc(path, [
        HttpPage("https://a.example/utf8", page(ARTICLE).encode("utf-8"), with_request=True),
        HttpPage("https://a.example/latin1", latin1, content_type="text/html; charset=ISO-8859-1"),
        HttpPage("https://a.example/gbk", gbk, content_type="text/html; charset=gb2312"),
        HttpPage("https://a.example/meta", meta_only, content_type="text/html"),
        HttpPage("https://a.example/missing", b"<html>gone</html>", status=404),
        HttpPage("https://a.example/pic.png", b"\x89PNG....", content_type="image/png"),
    ])
    records = read(path)
    errors = Counter(r.error for r in records)
    assert errors == {None: 4, "warc_request": 1, "http_status": 1, "not_html": 1}
    texts = {r.url: r.text for r in records if r.error is None}
    for url in ("https://a.example/utf8", "https://a.example/latin1", "https://a.example/meta"):
        assert "Die Stadtbibliothek öffnet am Montag" in texts[url], url
        assert not any(n in texts[url] for n in ("Startseite", "Impressum", "Cookie-Einstellungen")), texts[url]
    assert "北京市图书馆今天开放了新的阅览室" in texts["https://a.example/gbk"]
    first = next(r for r in records if r.error is None)
    assert first.meta["warc_record_id"].startswith("<urn:uuid:") and first.meta["warc_date"].startswith("20")


def test_wet_conversion_records_are_read_as_text(tmp_path):
    path = str(tmp_path / "seg.warc.wet.gz")
    write_wet(path, [("https://b.example/1", "纯文本记录。\n第二行。"), ("https://b.example/2", "Plain text.")])
    records = read(path)
    assert [(r.url, r.text) for r in records] == [("https://b.example/1", "纯文本记录。\n第二行。"),
                                                    ("https://b.example/2", "Plain text.")]


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_truncated_warc_counts_the_lost_tail(tmp_path, suffix):
    path = str(tmp_path / f"cut{suffix}")
    write_warc(path, [HttpPage(f"https://c.example/{i}", page(ARTICLE * 3).encode()) for i in range(4)])
    truncate(path, 0.6)
    records = read(path)
    assert records[-1].error == "truncated_record"
    assert sum(r.error is None for r in records) >= 1


def test_not_a_warc_and_oversized_pages_are_counted_rejections(tmp_path):
    bogus = tmp_path / "bogus.warc"
    bogus.write_bytes(b"this is not a WARC file\n" * 50)
    assert [r.error for r in read(str(bogus))] == ["not_warc"]
    bogus_gz = tmp_path / "bogus.warc.gz"
    bogus_gz.write_bytes(b"not gzip either" * 10)
    assert [r.error for r in read(str(bogus_gz))] == ["not_warc"]
    big = str(tmp_path / "big.warc.gz")
    huge = b"<html><body><p>" + b"spam " * 2_000_000 + b"</p></body></html>"
    write_warc(big, [HttpPage("https://d.example/huge", huge), HttpPage("https://d.example/ok", page(ARTICLE).encode())])
    assert [r.error for r in read(big, max_record_bytes=1_000_000)] == ["record_too_large", None]


def test_decode_html_mixed_and_undecodable_bytes():
    mostly_utf8 = ("Grüße aus Köln. " * 100).encode("utf-8") + b"\xff"
    assert decode_html(mostly_utf8).startswith("Grüße aus Köln.")
    assert decode_html("日本語のページです。".encode("shift_jis"), "shift_jis") == "日本語のページです。"
    assert decode_html(b"<p>hi</p>", "no-such-charset") == "<p>hi</p>"
    assert extract_main_text("<html><body><script>var x=1;</script><p>Hello world.</p></body></html>") == "Hello world."


class FlakyOpener:
    """Opens local files, but the stream of the first open breaks after ``fail_after`` bytes."""

    def __init__(self, fail_after: int) -> None:
        self.fail_after = fail_after
        self.opens = 0

    def __call__(self, url: str):
        self.opens += 1
        handle = open(url, "rb")  # noqa: SIM115
        if self.opens > 1:
            return handle
        limit = self.fail_after

        class Breaking(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, buffer):
                nonlocal limit
                if limit <= 0:
                    raise ConnectionResetError("connection reset by peer")
                data = handle.read(min(len(buffer), limit))
                limit -= len(data)
                buffer[: len(data)] = data
                return len(data)

            def close(self):
                handle.close()
                super().close()

        return io.BufferedReader(Breaking(), buffer_size=4096)


def test_common_crawl_source_resumes_after_a_dropped_connection(tmp_path):
    crawl = "CC-MAIN-2024-10"
    rel = [f"crawl-data/{crawl}/segments/1/wet/part-{i}.warc.wet.gz" for i in range(2)]
    for i, path in enumerate(rel):
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        write_wet(str(tmp_path / path), [(f"https://e.example/{i}/{j}", f"文档 {i}-{j} " + "内容。" * 400)
                                          for j in range(30)])
    listing = tmp_path / "wet.paths.gz"
    with gzip.open(listing, "wt") as fh:
        fh.write("\n".join(rel) + "\n")
    cfg = SimpleNamespace(name="cc", crawl=crawl, paths=[], paths_file=str(listing), max_files=None,
                          base_url=str(tmp_path), max_record_bytes=10_000_000, max_retries=3,
                          retry_backoff_s=0.01, retry_max_backoff_s=0.01)
    opener = FlakyOpener(fail_after=3_000)
    source = CommonCrawlSource(cfg, 0, 1, open_url=opener, sleep=lambda s: None)
    records = list(source.records(None))
    assert source.retries == 1 and opener.opens == 3
    assert [r.url for r in records] == [f"https://e.example/{i}/{j}" for i in range(2) for j in range(30)]
    resumed = CommonCrawlSource(cfg, 0, 1, sleep=lambda s: None)
    first = list(itertools.islice(resumed.records(None), 40))
    rest = list(CommonCrawlSource(cfg, 0, 1).records(resumed.state()))
    assert [r.url for r in first + rest] == [r.url for r in records]


def test_common_crawl_missing_file_is_counted_and_foreign_paths_refused(tmp_path):
    cfg = SimpleNamespace(name="cc", crawl="CC-MAIN-2024-10", paths=["crawl-data/CC-MAIN-2024-10/x.warc.gz"],
                          paths_file=None, max_files=None, base_url=str(tmp_path), max_record_bytes=1000,
                          max_retries=1, retry_backoff_s=0.0, retry_max_backoff_s=0.0)
    assert [r.error for r in CommonCrawlSource(cfg, 0, 1).records(None)] == ["unreadable_file"]
    cfg.paths = ["crawl-data/CC-MAIN-2023-50/x.warc.gz"]
    with pytest.raises(UserError, match="not from source.crawl=CC-MAIN-2024-10"):
        CommonCrawlSource(cfg, 0, 1)


def test_html_in_a_record_field_becomes_main_text(tmp_path):
    path = tmp_path / "pages.jsonl"
    path.write_text(json.dumps({"text": page(ARTICLE)}) + "\n" + json.dumps({"text": "<html></html>"}) + "\n",
                    encoding="utf-8")
    fields = FieldSpec("pages", "text", None, None, html=True)
    records = list(iter_local_file(str(path), fields))
    assert "Die Stadtbibliothek" in records[0].text and "Impressum" not in records[0].text
    assert records[1].error == "no_text"
