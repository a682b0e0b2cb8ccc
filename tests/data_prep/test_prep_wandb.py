"""logger.mode=offline: the prep run in W&B, read back from its .wandb log (no mock)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import wandb

from data_prep.api import prepare
from tests.wandb_offline import offline_runs

pytestmark = pytest.mark.slow

PROSE = "Please write to the team about the results of the survey before the end of the month. "


@pytest.fixture(autouse=True)
def own_wandb_service():
    yield
    wandb.teardown()
    os.environ.pop("WANDB_SERVICE", None)


def test_prep_run_logs_config_tables_and_the_dataset_artifact(tmp_path: Path) -> None:
    rows = [{"text": f"{PROSE * 3} ({i})"} for i in range(20)] + [{"text": "tiny"}, {"body": "no text"}]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    manifest = prepare([f"out_dir={out}", "source=local", f"source.paths=[{data}]", "source.name=mail",
                        "source.license=CC-BY-4.0", "seq_len=16", "tokenizer.vocab_size=300", "progress=false",
                        "samples_per_shard=16", "logger.mode=offline", "logger.project=prep-test"])

    [run] = offline_runs(out)
    config = run.config()
    assert config["seq_len"] == 16 and config["source"]["license"] == "CC-BY-4.0"  # nested, as resolved
    assert config["pipeline"] == json.loads((out / "manifest.json").read_text())["config"]["pipeline"]
    rejections = {(r["stage"], r["reason"]): r["docs"] for r in run.table("rejections")}
    assert rejections == {("clean", "too_short"): 1, ("source", "missing_text"): 1}
    provenance = run.table("provenance")
    assert {(r["by"], r["name"], r["docs"], r["token_share"]) for r in provenance} == {
        ("source", "mail", 20, 1.0), ("license", "CC-BY-4.0", 20, 1.0)}

    [dataset] = [a for a in run.logged_artifacts() if a.type == "dataset"]
    assert dataset.name == "dataset-out" and list(dataset.aliases) == ["latest"] and not dataset.use_after_commit
    files = {e.path: e.ref for e in dataset.manifest.contents}
    assert {"manifest.json", "tokenizer.json", "report.html", "report/rejections.png"} <= set(files)
    shards = {path: ref for path, ref in files.items() if ref}
    assert sorted(shards) == sorted([s.path for s in manifest.shards] + [s.index for s in manifest.shards])
    assert len(shards) > 2
    assert all(ref == (out / path).resolve().as_uri() for path, ref in shards.items()), "shards by reference"


def test_logger_mode_disabled_by_default(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"text": PROSE * 3}) + "\n", encoding="utf-8")
    prepare([f"out_dir={tmp_path / 'out'}", "source=local", f"source.paths=[{data}]", "seq_len=16",
             "tokenizer.vocab_size=300", "progress=false"])
    assert not (tmp_path / "out" / "wandb").exists()
