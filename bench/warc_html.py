"""WARC readers (fastwarc vs warcio) and HTML main-text extractors (resiliparse vs trafilatura) on real
pages available offline: the HTML documentation shipped with the Rust toolchain (mdBook / rustdoc pages
with sidebars, menus and footers around a <main> element).

    python bench/warc_html.py [--pages 400] [--root ~/.rustup/toolchains]

Printed: records/s of each WARC reader and of data_prep's whole WARC path (read, decode, extract) on the same gzipped WARC (and whether both return the same
records and payloads); docs/s of each extractor and how well its output matches the page's <main> text
(token precision = share of extracted tokens that belong to <main>; recall = share of <main> tokens
recovered), with the ratios in one run.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.data_prep.warc_fixtures import HttpPage, write_warc  # noqa: E402

_TOKEN = re.compile(r"\w+")


def load_pages(root: str, limit: int) -> list[tuple[str, bytes]]:
    paths = sorted(glob.glob(os.path.join(root, "**", "*.html"), recursive=True))
    paths = [p for p in paths if 8_000 < os.path.getsize(p) < 400_000][:limit]
    return [(f"https://doc.example.org/{i}/{os.path.basename(p)}", Path(p).read_bytes()) for i, p in enumerate(paths)]


def read_fastwarc(path: str) -> list[tuple[str, str]]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            body = rec.reader.read()
            out.append((rec.headers.get("WARC-Target-URI"), hashlib.sha1(body).hexdigest()))
    return out


def read_warcio(path: str) -> list[tuple[str, str]]:
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            body = rec.content_stream().read()
            out.append((rec.rec_headers.get_header("WARC-Target-URI"), hashlib.sha1(body).hexdigest()))
    return out


def main_text(html: str) -> str:
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    main = tree.body.query_selector("main") if tree.body else None
    return main.text if main is not None else ""


def extract_resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True, preserve_formatting=True)


def extract_trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=False) or ""


def overlap(extracted: str, reference: str) -> tuple[float, float]:
    got, ref = Counter(_TOKEN.findall(extracted.lower())), Counter(_TOKEN.findall(reference.lower()))
    common = sum((got & ref).values())
    return common / max(sum(got.values()), 1), common / max(sum(ref.values()), 1)


def bench_readers(pages: list[tuple[str, bytes]], copies: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.warc.gz")
        write_warc(path, [HttpPage(url, html) for _ in range(copies) for url, html in pages])
        results = {}
        for name, read in (("fastwarc", read_fastwarc), ("warcio", read_warcio)):
            read(path)  # warm-up (imports, page cache)
            start = time.perf_counter()
            records = read(path)
            results[name] = (records, len(records) / (time.perf_counter() - start))
        from data_prep.sources.warc import iter_warc

        start = time.perf_counter()
        texts = sum(r.error is None for r in iter_warc(path, "bench", 10_000_000))
        full_rate = len(results["warcio"][0]) / (time.perf_counter() - start)
        same = results["fastwarc"][0] == results["warcio"][0]
        size = os.path.getsize(path) / 1e6
        print(f"WARC ({len(results['warcio'][0])} responses, {size:.1f} MB gz): fastwarc "
              f"{results['fastwarc'][1]:.0f} rec/s, warcio {results['warcio'][1]:.0f} rec/s, ratio "
              f"{results['fastwarc'][1] / results['warcio'][1]:.1f}x; same records and payloads: {same}")
        print(f"data_prep's WARC source (read + charset + resiliparse main text): {full_rate:.0f} docs/s, "
              f"{texts} documents")


def bench_extractors(pages: list[tuple[str, bytes]]) -> None:
    htmls = [html.decode("utf-8", "replace") for _, html in pages]
    refs = [main_text(h) for h in htmls]
    rates = {}
    for name, extract in (("resiliparse", extract_resiliparse), ("trafilatura", extract_trafilatura)):
        extract(htmls[0])
        start = time.perf_counter()
        outs = [extract(h) for h in htmls]
        rate = len(htmls) / (time.perf_counter() - start)
        scores = [overlap(o, r) for o, r in zip(outs, refs) if r.strip()]
        p = sum(s[0] for s in scores) / len(scores)
        r = sum(s[1] for s in scores) / len(scores)
        empty = sum(not o.strip() for o in outs)
        rates[name] = rate
        print(f"{name:12} {rate:7.1f} docs/s  main-text token precision {p:.3f} recall {r:.3f}  empty {empty}")
    print(f"ratio resiliparse/trafilatura: {rates['resiliparse'] / rates['trafilatura']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--copies", type=int, default=5, help="WARC bench: each page this many times")
    parser.add_argument("--root", default=os.path.expanduser("~/.rustup/toolchains"))
    args = parser.parse_args()
    pages = load_pages(args.root, args.pages)
    if not pages:
        sys.exit(f"no HTML pages under {args.root}")
    print(f"{len(pages)} real HTML pages from {args.root}")
    bench_readers(pages, args.copies)
    bench_extractors(pages)


if __name__ == "__main__":
    main()
