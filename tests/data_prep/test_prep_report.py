"""report.html + PNGs: length histograms, rejections, token shares per source and licence, PII counts."""

from __future__ import annotations

import json
from pathlib import Path

from data_prep.api import prepare

PROSE = "Please write to the team about the results of the survey before the end of the month. "


def test_report_shows_rejections_shares_and_pii(tmp_path: Path) -> None:
    rows = [{"text": f"{PROSE * 2} Contact: person{i}@example.org or 10.0.0.1 and 8.8.8.8 ({i})"} for i in range(12)]
    rows += [{"text": "tiny"}, {"body": "no text"}]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    manifest = prepare([f"out_dir={out}", "source=local", f"source.paths=[{data}]", "source.name=mail",
                        "source.license=CC-BY-4.0", "pipeline.pii.enabled=true", "seq_len=16",
                        "tokenizer.vocab_size=300", "progress=false"])
    counters = manifest.stats["counters"]
    assert counters["pii/email"] == 12 and counters["pii/ip"] == 12  # 10.0.0.1 is private: kept
    page = (out / "report.html").read_text(encoding="utf-8")
    for png in ("doc_lengths", "rejections", "tokens_by_source", "tokens_by_license", "pii"):
        assert (out / "report" / f"{png}.png").stat().st_size > 1000
        assert f"report/{png}.png" in page
    for text in ("clean/too_short", "source/missing_text", "pii/email", "documents written"):
        assert text in page
    assert manifest.provenance["tokens_by_license"].keys() == {"CC-BY-4.0"}
    assert manifest.provenance["docs_by_source"] == {"mail": 12}
