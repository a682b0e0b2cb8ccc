"""A bilingual prep run from a Common Crawl WARC and a plain-text book: every record accounted for, the
book split into parts instead of rejected, bias statistics in the manifest and the report, and a
tokenizer that encodes Chinese at a sensible number of bytes per token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from data_prep.api import prepare
from openpretrain.manifest import load_manifest
from tests.conftest import run_module
from tests.data_prep import zh_texts as zh
from tests.data_prep.warc_fixtures import HttpPage, truncate, write_warc

pytestmark = pytest.mark.slow  # a whole prep run (tokenizer training, two-phase dedup) in this process


def html(title: str, body: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (f"<html><head><title>{title}</title></head><body><nav><a href='/'>首页</a> <a href='/a'>关于</a></nav>"
            f"<main><h1>{title}</h1>{paragraphs}</main><footer>版权所有 示例公司</footer></body></html>")


def book() -> str:
    """A Chinese text several times longer than the run's max_chars: every paragraph of the fixtures once."""
    paragraphs = [p for text in (*zh.PROSE, zh.ZH_WITH_ENGLISH) for p in text.split("\n")]
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="module")
def bilingual_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("open")
    pages = [HttpPage(f"https://zh.example/{i}", html("新闻", p).encode("gbk"), content_type="text/html; charset=gbk")
             for i, p in enumerate(zh.PROSE)]
    pages += [HttpPage("https://en.example/1", html("News", zh.ENGLISH).encode("utf-8")),
              HttpPage("https://zh.example/bad", html("论坛", zh.BAD_WORDS_PAGE).encode("utf-8")),
              HttpPage("https://zh.example/gone", b"<html>404</html>", status=404, with_request=True),
              HttpPage("https://ja.example/1", html("日記", zh.JAPANESE).encode("utf-8"))]
    pages += [HttpPage(f"https://zh.example/tail{i}", html("尾", zh.PROSE[i % 3]).encode()) for i in range(3)]
    warc = tmp / "crawl.warc.gz"
    write_warc(str(warc), pages)
    truncate(str(warc), 0.93)  # the last page is cut: one counted rejection
    (tmp / "book.txt").write_text(book(), encoding="utf-8")
    out = tmp / "out"
    prepare([f"out_dir={out}", "source=local", f"source.paths=[{warc},{tmp / 'book.txt'}]", "source.name=open",
             "pipeline=web_zh_en", "pipeline.max_chars=600", "pipeline.dedup.near=false", "pipeline.bias.enabled=true",
             "tokenizer.vocab_size=2000", "tokenizer.min_frequency=1", "seq_len=64", "val_fraction=0.0",
             "progress=false", "rejects=true"])
    return out


def test_every_record_and_part_is_accounted_for(bilingual_run):
    stats = load_manifest(str(bilingual_run)).stats
    rejected = stats["rejected"]
    assert stats["docs_in"] == stats["docs_written"] + sum(rejected.values())
    assert rejected["source/warc_request"] == 1 and rejected["source/http_status"] == 1
    assert rejected["source/truncated_record"] == 1
    assert rejected["route/zh/bad_words/hit"] == 1 and rejected["lang_id/language"] == 1
    assert stats["counters"]["split/docs"] == 1 and stats["counters"]["split/parts"] >= 2  # the book
    assert "clean/too_long" not in rejected
    assert stats["docs_written"] >= 3 + 1 + 2  # Chinese pages, the English page, the book parts


def test_rejects_file_names_the_matched_bad_word(bilingual_run):
    lines = [json.loads(line) for path in (bilingual_run / "rejects").rglob("*.jsonl") for line in path.open()]
    bad = [r for r in lines if r["reason"] == "route/zh/bad_words/hit"]
    assert len(bad) == 1 and "他妈的" in bad[0]["detail"]


def test_bias_statistics_in_manifest_and_report(bilingual_run):
    bias = load_manifest(str(bilingual_run)).stats["bias"]
    assert set(bias) >= {"zh", "en"}
    assert bias["en"]["female"]["kept"] >= 3  # her, she, her in the English page
    assert bias["zh"]["male"]["kept"] > 0 and bias["zh"]["male"]["rejected"] > 0
    assert (bilingual_run / "report" / "bias.png").is_file() and "bias.png" in (bilingual_run / "report.html").read_text()


def test_tokenizer_encodes_chinese_at_a_sensible_rate(bilingual_run):
    tok = Tokenizer.from_file(str(bilingual_run / "tokenizer.json"))
    held_out = ("我们学校的老师今天告诉我们，下学期图书馆会延长开放时间。很多同学听了以后都很高兴，"
                "因为他们可以在周末的时候去那里学习。")
    bytes_per_token = len(held_out.encode("utf-8")) / len(tok.encode(held_out).ids)
    print(f"held-out Chinese: {bytes_per_token:.2f} bytes/token (BPE of 2000 trained on this small bilingual run)")
    # 3 bytes per Han character: byte-level pieces alone would give < 3 / 2; merges reach whole characters
    # and frequent words
    assert 2.5 <= bytes_per_token <= 9.0


@pytest.mark.parametrize("override,key", [
    ("pipeline.language=xx", "pipeline.language"), ("pipeline.segmenter=icu", "pipeline.segmenter"),
    ("source.txt_mode=chapters", "source.txt_mode"), ("pipeline.bad_words.languages=[klingon]", "pipeline.bad_words.languages"),
])
def test_bad_language_settings_are_one_error_line(tmp_path, override, key):
    book = tmp_path / "book.txt"
    book.write_text(zh.PROSE[0], encoding="utf-8")
    proc = run_module("data_prep", f"out_dir={tmp_path / 'out'}", "source=local", f"source.paths=[{book}]",
                      "pipeline=web_zh", override, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and key in errors[0], proc.stderr


def test_common_crawl_preset_reads_a_local_mirror(tmp_path):
    crawl = "CC-MAIN-2024-10"
    rel = f"crawl-data/{crawl}/segments/1/warc/part-0.warc.gz"
    (tmp_path / "mirror" / rel).parent.mkdir(parents=True)
    write_warc(str(tmp_path / "mirror" / rel), [HttpPage(f"https://zh.example/{i}", html("新闻", p).encode())
                                                 for i, p in enumerate(zh.PROSE)])
    (tmp_path / "warc.paths").write_text(rel + "\n", encoding="utf-8")
    manifest = prepare([f"out_dir={tmp_path / 'out'}", "source=common_crawl", f"source.paths_file={tmp_path / 'warc.paths'}",
                        f"source.base_url={tmp_path / 'mirror'}", "pipeline=web_zh", "pipeline.dedup.near=false",
                        "tokenizer.vocab_size=400", "tokenizer.min_frequency=1", "seq_len=32", "progress=false"])
    assert manifest.stats["docs_written"] == 3
    assert manifest.provenance["docs_by_license"] == {"CC-TOU": 3}
