"""The out_dir of a run: a file there is one error line; a changed config is refused with the way out
(overwrite=true and the exact command), and overwrite=true replaces only what data_prep wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep.api import prepare
from openpretrain.errors import UserError
from tests.conftest import run_module

SMALL = ["max_docs=12", "seq_len=16", "tokenizer.vocab_size=300", "samples_per_shard=50000", "progress=false",
         "report=false"]


def test_out_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("not a folder")
    with pytest.raises(UserError, match="is an existing file, not a folder"):
        prepare([f"out_dir={path}", *SMALL])
    assert path.read_text() == "not a folder"


@pytest.mark.slow
def test_out_dir_that_is_a_file_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("not a folder")
    proc = run_module("data_prep", f"out_dir={path}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: out_dir {path} is an existing file, not a folder; choose another out_dir="


def test_changed_config_names_overwrite_and_overwrite_replaces_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare([f"out_dir={out}", *SMALL])
    (out / "notes.txt").write_text("mine")  # not data_prep's: must survive overwrite=true
    changed = [f"out_dir={out}", *SMALL, "seq_len=32"]
    with pytest.raises(UserError) as info:
        prepare(changed)
    message = str(info.value)
    assert "differs in: seq_len" in message and "overwrite=true" in message
    assert message.endswith(f"python -m data_prep out_dir={out} max_docs=12 seq_len=16 tokenizer.vocab_size=300 "
                            "samples_per_shard=50000 progress=false report=false seq_len=32 overwrite=true")
    manifest = prepare([*changed, "overwrite=true"])
    assert manifest is not None and manifest.seq_len == 32
    assert json.loads((out / "_prep" / "config.json").read_text())["seq_len"] == 32
    assert (out / "notes.txt").read_text() == "mine"
    again = prepare([*changed, "overwrite=true"])  # same config now: overwrite has nothing to replace
    assert again is not None and [s.sha256 for s in again.shards] == [s.sha256 for s in manifest.shards]
