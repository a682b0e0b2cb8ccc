"""Bad input is counted by reason, never a crash; docs_in == docs_written + sum(rejected) always holds."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from data_prep.api import prepare
from tests.conftest import run_module

GOOD = "The quick brown fox jumps over the lazy dog, and then it rests for a while. "
FIFTY_MB = 50 * 1024 * 1024


def good_line(i: int) -> bytes:
    return (json.dumps({"text": f"{GOOD * 3} (document {i})"}) + "\n").encode()


def write_bad_jsonl(path: Path) -> None:
    lines = [
        good_line(0),
        b'{"text": "caf\xe9 is latin-1, not UTF-8"}\n',  # invalid UTF-8
        b"\n",  # empty line
        b"   \n",  # whitespace-only line
        b"this is not json\n",
        b'{"body": "no text field here"}\n',
        b'{"text": 42}\n',
        b'["a", "json", "list"]\n',
        bytes(range(256)).replace(b"\n", b"") * 3 + b"\n",  # binary junk (not UTF-8)
        b"\x00\x01\x02 {\x7f\x1b}\n",  # binary junk that is valid UTF-8 (but not JSON)
        (json.dumps({"text": "x" * FIFTY_MB}) + "\n").encode(),  # a 50 MB document
        b'{"text": "   "}\n',  # empty after strip
        b'{"text": "short"}\n',
        good_line(1),
    ]
    path.write_bytes(b"".join(lines))


def write_truncated_gz(path: Path, n_good: int) -> None:
    payload = gzip.compress(b"".join(good_line(100 + i) for i in range(n_good)) * 40)
    path.write_bytes(payload[: len(payload) // 2])


@pytest.mark.slow
def test_bad_input_is_counted_not_fatal(tmp_path: Path) -> None:
    write_bad_jsonl(tmp_path / "bad.jsonl")
    write_truncated_gz(tmp_path / "cut.jsonl.gz", n_good=5)
    (tmp_path / "latin1.txt").write_bytes("déjà vu".encode("latin-1") * 20)
    (tmp_path / "junk.parquet").write_bytes(os.urandom(2000))
    manifest = prepare([
        f"out_dir={tmp_path / 'out'}", "source=local",
        f"source.paths=[{tmp_path}/bad.jsonl,{tmp_path}/cut.jsonl.gz,{tmp_path}/latin1.txt,{tmp_path}/junk.parquet]",
        "seq_len=16", "tokenizer.vocab_size=300", "samples_per_shard=8", "progress=false", "report=false",
        "rejects=true", "rejects_text_chars=20",
    ])
    stats = manifest.stats
    assert stats["rejected"] == {
        "source/invalid_utf8": 3,  # the latin-1 jsonl line, the binary junk line and the latin-1 .txt file
        "source/bad_json": 2,
        "source/empty_line": 2,
        "source/not_an_object": 1,
        "source/missing_text": 1,
        "source/text_not_string": 1,
        "source/truncated_file": 1,
        "source/unreadable_file": 1,
        "clean/too_long": 1,
        "clean/empty": 1,
        "clean/too_short": 1,
    }
    good_from_gz = stats["docs_written"] - 2
    assert good_from_gz > 0  # everything before the damage in the truncated .gz was used
    assert stats["docs_in"] == stats["docs_written"] + sum(stats["rejected"].values())
    assert manifest.shards
    logged = [json.loads(line) for p in (tmp_path / "out" / "rejects").rglob("*.jsonl")
              for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(logged) == sum(stats["rejected"].values())
    too_long = next(r for r in logged if r["reason"] == "clean/too_long")
    assert too_long["text"] == "x" * 20 and too_long["id"].endswith("bad.jsonl#11")


@pytest.mark.slow
def test_input_with_no_usable_document_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.jsonl").write_bytes(b'{"text": "x"}\nnot json\n\n')
    proc = run_module("data_prep", f"out_dir={tmp_path / 'out'}", "source=local",
                      f"source.paths=[{tmp_path}/junk.jsonl]", check=False)
    assert proc.returncode == 2 and "no document passed" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_wrong_text_field_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "docs.jsonl").write_text('{"content": "a document long enough to keep"}\n' * 3)
    proc = run_module("data_prep", f"out_dir={tmp_path / 'out'}", "source=local",
                      f"source.paths=[{tmp_path}/docs.jsonl]", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "source/missing_text 3" in proc.stderr and "source.text_field='text'" in proc.stderr


def test_lone_surrogate_is_one_counted_rejection(tmp_path: Path) -> None:
    # "\ud800" is valid JSON but no UTF-8 text: once it killed the run inside tokenizer training.
    lines = [good_line(i) for i in range(4)]
    lines.insert(1, b'{"text": "' + GOOD.encode() * 2 + b' \\ud800 lone high surrogate"}\n')
    lines.insert(3, b'{"text": "' + GOOD.encode() * 2 + b'", "id": "x\\udfff"}\n')  # in the upstream id
    (tmp_path / "s.jsonl").write_bytes(b"".join(lines))
    manifest = prepare([
        f"out_dir={tmp_path / 'out'}", "source=local", f"source.paths=[{tmp_path}/s.jsonl]", "source.id_field=id",
        "seq_len=16", "tokenizer.vocab_size=300", "samples_per_shard=8", "progress=false", "report=false",
        "rejects=true",
    ])
    stats = manifest.stats
    assert stats["rejected"] == {"source/invalid_unicode": 2}
    assert stats["docs_in"] == 6 and stats["docs_written"] == 4
    logged = [json.loads(line) for p in (tmp_path / "out" / "rejects").rglob("*.jsonl")
              for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["reason"] for r in logged) == ["source/invalid_unicode"] * 2
    assert any(r["id"] == "local/x\\udfff" for r in logged)  # the id is shown escaped, not lost


def test_lone_surrogate_from_any_source_is_rejected() -> None:
    from data_prep.document import Stats
    from data_prep.sources import RawRecord, to_documents
    from tests.data_prep.configs import source_config

    records = [RawRecord(id="a", text="fine text"), RawRecord(id="b", text="bad \udc80 text"),
               RawRecord(id="c", text="fine", url="https://example.org/\ud800")]
    stats = Stats()
    docs = list(to_documents(records, source_config(), stats))
    assert [d.id for d in docs] == ["a"] and stats.rejected == {"source/invalid_unicode": 2}
