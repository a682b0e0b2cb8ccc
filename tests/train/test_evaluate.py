"""train.evaluate: loss / perplexity / bits per byte on shards and on raw text files."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from openpretrain.errors import ConfigError, UserError
from tests.conftest import run_module
from tests.train.configs import eval_data, tool_config
from tests.train.interop_helpers import stage_run, stage_runs, trained_run  # noqa: F401
from train.evaluate import evaluate, text_rows, validate
from train.load import load_run

TEXT = 'def greet(name):\n    """Say hello — to anyone: ☃."""\n    return f"hello {name}"\n'


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_cli_on_val_shards_matches_the_training_loop_eval(trained_run, tmp_path):  # noqa: F811
    """The run's metrics.jsonl val loss (train's own eval: 1 batch of 4 val samples) is reproduced."""
    logged = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    train_eval = [r for r in logged if "val_loss" in r and r.get("step") == 2][-1]
    out = tmp_path / "eval.json"
    proc = run_module("train.evaluate", f"checkpoint={trained_run}", "batch_size=4", "max_batches=1", f"out={out}")
    result = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == result
    assert (result["source"], result["split"], result["step"], result["tokens"]) == ("shards", "val", 2, 4 * 64)
    assert result["loss"] == pytest.approx(train_eval["val_loss"], abs=1e-5)
    assert result["bits_per_byte"] == pytest.approx(train_eval["val_bpb"], abs=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_text_file_bits_per_byte(stage_runs, tmp_path):  # noqa: F811
    run = stage_run(stage_runs, "zero2")
    path = tmp_path / "sample.txt"
    path.write_text(TEXT, encoding="utf-8")
    loaded = load_run(str(run))
    ids = loaded.tokenizer.tokenizer.encode(TEXT, add_special_tokens=False).ids
    rows = torch.tensor([[loaded.tokenizer.eos_id] + ids])  # one window: the whole text after EOS
    with torch.no_grad():
        nats = F.cross_entropy(loaded.model(rows[:, :-1])[0], rows[0, 1:], reduction="sum").item()

    whole = evaluate(tool_config("evaluate", checkpoint=str(run), text_file=str(path), seq_len=len(ids)))
    assert whole["tokens"] == len(ids) and whole["bytes"] == len(TEXT.encode("utf-8")) > len(TEXT)
    assert whole["loss"] == pytest.approx(nats / len(ids), rel=1e-5)
    assert whole["bits_per_byte"] == pytest.approx(nats / math.log(2) / whole["bytes"], rel=1e-5)
    windowed = evaluate(tool_config("evaluate", checkpoint=str(run), text_file=str(path), seq_len=7, batch_size=3))
    assert windowed["tokens"] == len(ids)  # shorter windows: less context, every token still scored once


def test_text_rows_score_every_token_once():
    ids = list(range(23))
    rows = list(text_rows(ids, 5))
    assert all(len(r) <= 6 for r in rows)
    assert [t for r in rows for t in r[1:]] == ids[1:]


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_bad_input(stage_runs, prepared_dir, tmp_path):  # noqa: F811
    run = str(stage_run(stage_runs, "zero2"))
    other = tmp_path / "other_data"  # the same shards, recorded as made with another tokenizer
    other.mkdir()
    (other / "val").symlink_to(prepared_dir / "val")
    manifest = json.loads((prepared_dir / "manifest.json").read_text())
    manifest["tokenizer"]["sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="tokenized with another tokenizer"):
        evaluate(tool_config("evaluate", checkpoint=run, data=eval_data(path=str(other))))
    with pytest.raises(ConfigError, match="either text_file or data.path"):
        validate(tool_config("evaluate", checkpoint=run, text_file="a.txt", data=eval_data(path="d")))
    with pytest.raises(UserError, match="text_file: file not found"):  # at validation, before loading
        validate(tool_config("evaluate", checkpoint=run, text_file=str(tmp_path / "missing.txt")))
    with pytest.raises(UserError, match="no 'test' shards"):
        evaluate(tool_config("evaluate", checkpoint=run, data=eval_data(split="test")))
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ConfigError, match="max_seq_len=128"):
        evaluate(tool_config("evaluate", checkpoint=run, text_file=str(tmp_path / "x.txt"), seq_len=512))
