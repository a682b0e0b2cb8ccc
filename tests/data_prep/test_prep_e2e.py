"""End to end: ``python -m data_prep`` on the embedded corpus writes a Contract-2 directory."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds
from tokenizers import Tokenizer

from data_prep.api import prepare
from openpretrain.manifest import META_EXT, TOKENS_EXT, load_manifest
from tests.conftest import PREP_OVERRIDES, run_module

pytestmark = pytest.mark.slow  # every test runs python -m data_prep (or uses the session's prepared_dir run)


def test_manifest_matches_files(prepared_dir: Path) -> None:
    manifest = load_manifest(str(prepared_dir))
    assert manifest.seq_len == 64 and manifest.token_dtype == "uint16"
    assert manifest.tokenizer.vocab_size == 512
    tok_bytes = (prepared_dir / "tokenizer.json").read_bytes()
    assert hashlib.sha256(tok_bytes).hexdigest() == manifest.tokenizer.sha256
    assert manifest.shards_for("train") and manifest.shards_for("val")
    for shard in manifest.shards:
        payload = Path(manifest.shard_path(shard)).read_bytes()
        assert len(payload) == shard.bytes
        assert hashlib.sha256(payload).hexdigest() == shard.sha256
        index = Path(manifest.index_path(shard)).read_bytes()
        assert len(index) == shard.index_bytes and hashlib.sha256(index).hexdigest() == shard.index_sha256
        assert shard.offsets is None and manifest.format_version == 2
    stats = manifest.stats
    assert stats["docs_in"] == 400
    assert stats["docs_in"] == stats["docs_written"] + sum(stats["rejected"].values())
    assert stats["text_bytes"] > 0 and stats["text_tokens"] > 0 and manifest.bytes_per_token > 1.0
    assert manifest.provenance["docs_by_license"] == {"PSF-2.0": stats["docs_written"]}
    assert manifest.config["seq_len"] == 64
    assert (prepared_dir / "report.html").is_file()


def test_samples_are_packed_documents(prepared_dir: Path) -> None:
    manifest = load_manifest(str(prepared_dir))
    eos = manifest.tokenizer.eos_id
    tok = Tokenizer.from_file(manifest.tokenizer_path)
    shard = manifest.shards_for("train")[0]
    samples = list(wds.WebDataset(manifest.shard_path(shard), shardshuffle=False))
    assert len(samples) == shard.samples
    stream = []
    for sample in samples:
        tokens = np.load(io.BytesIO(sample[TOKENS_EXT]))
        meta = json.loads(sample[META_EXT])
        assert tokens.dtype == np.uint16 and tokens.shape == (manifest.seq_len + 1,)
        assert meta["doc_starts"][0] == 0 and len(meta["doc_ids"]) == len(meta["doc_starts"])
        # a new document starts right after every EOS inside the sample
        after_eos = [int(i) + 1 for i in np.flatnonzero(tokens == eos) if i + 1 < len(tokens)]
        assert after_eos == meta["doc_starts"][1:]
        stream.extend(tokens.tolist())
    first_doc = tok.decode(stream[: stream.index(eos)])
    assert first_doc and first_doc == first_doc.strip()  # cleaning strips every document


def test_index_offsets_seek_to_samples(prepared_dir: Path) -> None:
    manifest = load_manifest(str(prepared_dir))
    shard = manifest.shards_for("val")[0]
    boundaries = np.load(manifest.index_path(shard))
    assert boundaries.dtype == np.uint64 and len(boundaries) == shard.samples + 1
    with open(manifest.shard_path(shard), "rb") as fh:
        for index, offset in enumerate(boundaries[:-1]):
            fh.seek(int(offset))
            name = fh.read(100).split(b"\0")[0].decode()
            assert name.endswith(f"_{index:06d}.{TOKENS_EXT}")
        fh.seek(int(boundaries[-1]))
        assert set(fh.read()) == {0}  # the last sample ends where the end-of-archive blocks begin
    assert '"offsets"' not in (prepared_dir / "manifest.json").read_text()  # nothing per sample in the manifest


def test_bad_override_fails_in_one_line(tmp_path: Path) -> None:
    proc = run_module("data_prep", f"out_dir={tmp_path}", "source=local", f"source.paths=[{tmp_path}/nope.jsonl]",
                      check=False)
    assert proc.returncode == 2
    assert "nope.jsonl" in proc.stderr and "Traceback" not in proc.stderr


def test_rerun_of_finished_run_changes_nothing(prepared_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(prepared_dir, copy)
    run_module("data_prep", f"out_dir={copy}", *PREP_OVERRIDES, "report=false")
    after = json.loads((copy / "manifest.json").read_text())
    assert after["shards"] == json.loads((prepared_dir / "manifest.json").read_text())["shards"]


def test_other_config_in_same_out_dir_is_refused(prepared_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(prepared_dir / "_prep", copy / "_prep")
    proc = run_module("data_prep", f"out_dir={copy}", *PREP_OVERRIDES, "seq_len=32", check=False)
    assert proc.returncode == 2 and "seq_len" in proc.stderr


def test_tokenizer_file_is_reused_exactly(prepared_dir: Path, tmp_path: Path) -> None:
    source = prepared_dir / "tokenizer.json"
    manifest = prepare([f"out_dir={tmp_path / 'out'}", "tokenizer=file", f"tokenizer.path={source}", "max_docs=20",
                        "seq_len=32", "progress=false", "report=false"])
    assert manifest.tokenizer.sha256 == load_manifest(str(prepared_dir)).tokenizer.sha256
    assert manifest.tokenizer.vocab_size == 512


def test_unknown_hf_tokenizer_offline_is_one_line(tmp_path: Path) -> None:
    proc = run_module("data_prep", f"out_dir={tmp_path}", "tokenizer=hf", "tokenizer.name=no-such/tokenizer",
                      "max_docs=5", check=False)
    assert proc.returncode == 2 and "tokenizer.name" in proc.stderr and "Traceback" not in proc.stderr
