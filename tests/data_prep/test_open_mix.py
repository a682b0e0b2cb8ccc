"""source=mix: several sources in one run, each with its own licence and pipeline, provenance per source."""

from __future__ import annotations

import itertools

import pytest

from data_prep.api import prepare
from data_prep.sources import build_source
from data_prep.sources.mix import mix_entries
from openpretrain.errors import ConfigError
from openpretrain.manifest import load_manifest
from tests.data_prep import zh_texts as zh
from tests.data_prep.configs import source_config


def entries(tmp_path, txt_mode: str = "paragraphs"):
    book = tmp_path / "book.txt"
    book.write_text("\n\n".join(p for text in zh.PROSE for p in text.split("\n")), encoding="utf-8")
    return [{"source": "local", "name": "zh_books", "license": "CC-BY-4.0", "paths": [str(book)],
             "txt_mode": txt_mode, "pipeline": "web_zh"},
            {"source": "python_stdlib", "pipeline": "minimal"}]


def test_entries_are_completed_from_conf_and_typos_are_named(tmp_path):
    cfg = source_config(kind="mix", name="mix", sources=entries(tmp_path))
    books, stdlib = mix_entries(cfg)
    assert books.source.txt_mode == "paragraphs" and books.pipeline.segmenter == "jieba"
    assert stdlib.source.license == "PSF-2.0" and stdlib.pipeline.name == "minimal"
    bad = source_config(kind="mix", name="mix", sources=[{"source": "local", "paht": ["x"]}])
    with pytest.raises(ConfigError, match=r"source.sources\[0\].*paht"):
        mix_entries(bad)
    with pytest.raises(ConfigError, match=r"source.sources\[0\].pipeline.*no pipeline preset 'web_xx'"):
        mix_entries(source_config(kind="mix", name="mix", sources=[{"source": "python_stdlib", "pipeline": "web_xx"}]))


def test_mix_reads_every_entry_in_order_and_resumes(tmp_path):
    cfg = source_config(kind="mix", name="mix", sources=entries(tmp_path))
    source = build_source(cfg)
    everything = [(r.id, r.meta["_mix_source"]) for r in source.records(None)]
    assert everything[0][1] == "zh_books" and everything[-1][1] == "python_stdlib"
    first = build_source(cfg)
    head = list(itertools.islice(first.records(None), 12))
    rest = list(build_source(cfg).records(first.state()))
    assert [(r.id, r.meta["_mix_source"]) for r in head + rest] == everything


def hydra_list(items: list[dict]) -> str:
    """A command-line override value for a list of flat dicts (strings and lists of strings)."""
    def value(v):
        return f"[{','.join(v)}]" if isinstance(v, list) else str(v)
    return "[" + ",".join("{" + ",".join(f"{k}:{value(v)}" for k, v in e.items()) + "}" for e in items) + "]"


@pytest.mark.slow
def test_mix_run_keeps_provenance_and_routes_by_source(tmp_path):
    out = tmp_path / "out"
    manifest = prepare([f"out_dir={out}", "source=mix", f"source.sources={hydra_list(entries(tmp_path, 'file'))}",
                        "max_docs=40", "tokenizer.vocab_size=600", "seq_len=256", "progress=false"])
    prov, stats = manifest.provenance, manifest.stats
    assert set(prov["docs_by_license"]) == {"CC-BY-4.0", "PSF-2.0"}
    assert set(prov["tokens_by_source"]) == {"zh_books", "python_stdlib"}
    assert stats["docs_in"] == stats["docs_written"] + sum(stats["rejected"].values())
    assert all(k.startswith(("mix/zh_books/", "mix/python_stdlib/", "clean/", "source/")) for k in stats["rejected"])
    assert load_manifest(str(out)).config["source"]["kind"] == "mix"
