"""Sources: the embedded stdlib corpus, local files (jsonl, jsonl.gz, parquet, txt, globs), hf streaming."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_prep.config import SourceConfig, SourceKind
from data_prep.document import Stats
from data_prep.sources import build_source, check_source, to_documents
from openpretrain.errors import UserError
from tests.data_prep.configs import source_config

ROWS = [{"text": f"document number {i} " * 3, "id": f"u{i}", "url": f"https://example.org/{i}"} for i in range(10)]


def local_cfg(*paths: Path, **kw) -> SourceConfig:
    return source_config(kind=SourceKind.local, name="loc", license="CC0", paths=[str(p) for p in paths], **kw)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return path


def docs_of(cfg: SourceConfig, task_id: int = 0, num_tasks: int = 1) -> tuple[list, Stats]:
    stats = Stats()
    source = build_source(cfg, task_id, num_tasks)
    return list(to_documents(source.records(None), cfg, stats)), stats


def test_stdlib_is_deterministic_and_mixed() -> None:
    cfg = source_config()
    first = [r.id for _, r in zip(range(60), build_source(cfg).records(None))]
    again = [r.id for _, r in zip(range(60), build_source(cfg).records(None))]
    assert first == again and len(set(first)) == 60
    kinds = {rid.split("/")[1] for rid in first}
    assert kinds == {"topic", "docstring", "file"}
    assert not any("site-packages" in rid or "/test/" in rid for rid in first)


def test_jsonl_gz_parquet_txt_and_fields(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", ROWS[:4])
    write_jsonl(tmp_path / "b.jsonl.gz", ROWS[4:7])
    pq.write_table(pa.Table.from_pylist(ROWS[7:]), tmp_path / "c.parquet")
    (tmp_path / "d.txt").write_text("a whole text file is one document", encoding="utf-8")
    cfg = local_cfg(tmp_path / "*.jsonl*", tmp_path / "c.parquet", tmp_path / "d.txt", id_field="id", url_field="url")
    docs, stats = docs_of(cfg)
    assert [d.text for d in docs[:10]] == [r["text"] for r in ROWS]
    assert [d.id for d in docs[:10]] == [f"loc/u{i}" for i in range(10)]
    assert docs[3].url == "https://example.org/3" and docs[3].license == "CC0" and docs[3].source == "loc"
    assert docs[10].text == "a whole text file is one document" and docs[10].id.endswith("d.txt")
    assert stats.docs_in == 11 and not stats.rejected


def test_ids_are_positions_without_id_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", ROWS[:3])
    docs, _ = docs_of(local_cfg(path, text_field="text"))
    assert [d.id for d in docs] == [f"loc/{path}#{n}" for n in (1, 2, 3)]


def test_tasks_partition_the_input(tmp_path: Path) -> None:
    cfg = local_cfg(write_jsonl(tmp_path / "a.jsonl", ROWS))
    shares = [[d.id for d in docs_of(cfg, t, 3)[0]] for t in range(3)]
    everything = [d.id for d in docs_of(cfg)[0]]
    assert sorted(sum(shares, [])) == sorted(everything) and all(shares)


def test_tasks_take_whole_files_when_there_are_enough(tmp_path: Path) -> None:
    paths = [write_jsonl(tmp_path / f"f{i}.jsonl", ROWS[3 * i : 3 * i + 3]) for i in range(3)]
    cfg = local_cfg(tmp_path / "f*.jsonl")
    shares = [[d.id for d in docs_of(cfg, t, 2)[0]] for t in range(2)]
    assert {i.split("#")[0] for i in shares[0]} == {f"loc/{paths[0]}", f"loc/{paths[2]}"}
    assert {i.split("#")[0] for i in shares[1]} == {f"loc/{paths[1]}"}
    assert sorted(shares[0] + shares[1]) == sorted(d.id for d in docs_of(cfg)[0])


def test_resume_from_state_continues_after_last_record(tmp_path: Path) -> None:
    cfg = local_cfg(write_jsonl(tmp_path / "a.jsonl", ROWS))
    source = build_source(cfg)
    records = source.records(None)
    head = [next(records).id for _ in range(4)]
    rest = [r.id for r in build_source(cfg).records(source.state())]
    assert head + rest == [r.id for r in build_source(cfg).records(None)]


@pytest.mark.parametrize("paths, needle", [(["missing.jsonl"], "missing.jsonl"), (["nothing-*.jsonl"], "nothing-*"),
                                           (["x.csv"], "unsupported")])
def test_missing_or_unsupported_paths_fail_at_start(tmp_path: Path, paths: list[str], needle: str) -> None:
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(UserError, match="source.paths") as info:
        check_source(local_cfg(*(tmp_path / p for p in paths)))
    assert needle in str(info.value)


def test_hf_streaming_through_load_dataset_on_local_files(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", ROWS[:6])
    pq.write_table(pa.Table.from_pylist(ROWS[6:]), tmp_path / "b.parquet")
    for hub_id, files, expected in (("json", [str(jsonl)], ROWS[:6]), ("parquet", [str(tmp_path / "b.parquet")], ROWS[6:])):
        cfg = source_config(kind=SourceKind.hf, name="web", license="ODC-By-1.0", hub_id=hub_id, data_files=files,
                           id_field="id", url_field="url")
        docs, stats = docs_of(cfg)
        assert [d.text for d in docs] == [r["text"] for r in expected]
        assert docs[0].id == f"web/{expected[0]['id']}" and docs[0].url == expected[0]["url"]
        assert stats.docs_in == len(expected)


def test_hf_tasks_partition_the_stream(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", ROWS)
    cfg = source_config(kind=SourceKind.hf, name="web", hub_id="json", data_files=[str(jsonl)], id_field="id")
    shares = [[d.id for d in docs_of(cfg, t, 2)[0]] for t in range(2)]
    assert all(shares) and sorted(shares[0] + shares[1]) == sorted(f"web/u{i}" for i in range(10))
