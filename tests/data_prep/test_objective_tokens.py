"""tokenizer.objective_tokens: the objectives' special tokens appended, everything else unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from openpretrain.manifest import load_manifest
from openpretrain.special_tokens import OBJECTIVE_TOKENS
from tests.conftest import PREP_OVERRIDES, run_module


@pytest.mark.slow
def test_objective_tokens_are_appended_and_the_rest_is_unchanged(prepared_dir: Path, objective_prepared_dir: Path,
                                                                 tmp_path: Path):
    # objective_prepared_dir: data_prep of prepared_dir's corpus and settings plus objective_tokens=[fim,mlm]
    out = tmp_path / "obj"
    shutil.copytree(objective_prepared_dir, out)  # the rerun below must not touch the session's copy
    plain = Tokenizer.from_file(str(prepared_dir / "tokenizer.json"))
    extended = Tokenizer.from_file(str(out / "tokenizer.json"))
    base = plain.get_vocab_size(with_added_tokens=True)
    added = [*OBJECTIVE_TOKENS["fim"], *OBJECTIVE_TOKENS["mlm"]]
    assert [extended.token_to_id(t) for t in added] == list(range(base, base + len(added)))
    assert all(plain.token_to_id(t) is None for t in added)
    text = "def main():\n    return 42  # <|fim_prefix|> is text here"
    assert extended.encode(text).ids[:8] == plain.encode(text).ids[:8]
    assert load_manifest(str(out)).tokenizer.vocab_size == base + len(added)
    # The shards are the same token ids: the special tokens never occur in prepared text.
    assert (out / "train" / "shard-000000.tar").read_bytes() == (prepared_dir / "train" / "shard-000000.tar").read_bytes()
    # A rerun into the same out_dir with other tokens is refused in one line (the run's config changed).
    again = run_module("data_prep", f"out_dir={out}", *PREP_OVERRIDES, "tokenizer.objective_tokens=[mlm]", check=False)
    assert again.returncode == 2 and "differs in: tokenizer" in again.stderr


@pytest.mark.slow  # a subprocess
def test_unknown_objective_is_refused(tmp_path: Path):
    proc = run_module("data_prep", f"out_dir={tmp_path / 'x'}", "tokenizer.objective_tokens=[fim,bert]", check=False)
    assert proc.returncode == 2
    assert "tokenizer.objective_tokens" in proc.stderr and "allowed: fim, mlm" in proc.stderr
