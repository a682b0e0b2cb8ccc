"""An HF folder as ``checkpoint=``: generate and evaluate (and so the memorization probe, which loads through
the same ``train.load.load_run``) take our exports and supported HF models, with the folder's tokenizer."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from openpretrain.errors import ConfigError, UserError
from tests.conftest import run_module
from tests.train.configs import eval_data, tool_config
from tests.train.hf_models import load_transformers
from tests.train.interop_helpers import trained_run  # noqa: F401
from tests.train.test_hf_init_train import hf_folder_for
from train.evaluate import evaluate
from train.generate import prompt_ids
from train.generate import run as generate
from train.load import load_run

# prepared_dir runs data_prep in a subprocess; the last test also trains.
pytestmark = pytest.mark.slow


@pytest.fixture
def qwen2_folder(prepared_dir, tmp_path):
    """A random Qwen2-shaped model (biases, tied embeddings) speaking the prepared data's tokenizer."""
    return hf_folder_for(prepared_dir, tmp_path / "qwen2", "qwen2", with_tokenizer=True, tie_word_embeddings=True)


def test_evaluate_an_hf_folder_matches_transformers(qwen2_folder, prepared_dir):
    cfg = tool_config("evaluate", checkpoint=str(qwen2_folder), batch_size=4, max_batches=2,
                      data=eval_data(path=str(prepared_dir), split="train"))
    result = evaluate(cfg)
    assert (result["checkpoint"], result["step"], result["seq_len"]) == (str(qwen2_folder), None, 64)
    # The same rows through transformers: the first 8 train samples, 64 predictions each.
    from train.evaluate import shard_rows

    rows, _ = shard_rows(str(prepared_dir), "train", 64, load_run(str(qwen2_folder)).tokenizer.sha256)
    batch = torch.tensor([next(rows) for _ in range(8)])
    with torch.no_grad():
        logits = load_transformers(qwen2_folder)(batch[:, :-1]).logits
    expected = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1)).item()
    assert result["loss"] == pytest.approx(expected, abs=1e-5)


def test_generate_from_an_hf_folder_matches_transformers(qwen2_folder):
    cfg = tool_config("generate", checkpoint=str(qwen2_folder), prompt="def main(", max_new_tokens=12,
                      temperature=0.0)
    ours = generate(cfg)[0]["tokens"]
    loaded = load_run(str(qwen2_folder))
    prompt = prompt_ids(loaded.tokenizer, "def main(")
    theirs = load_transformers(qwen2_folder).generate(
        torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long), max_new_tokens=12,
        do_sample=False, eos_token_id=loaded.tokenizer.eos_id)[0, len(prompt):].tolist()
    assert ours == theirs[: len(ours)] and len(ours) > 0


def test_hf_folder_errors_are_one_line(qwen2_folder, tmp_path):
    cfg = tool_config("evaluate", checkpoint=str(qwen2_folder))
    with pytest.raises(ConfigError, match="is a Hugging Face folder, which names no data: pass data.path=DIR"):
        evaluate(cfg)
    (qwen2_folder / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="has no tokenizer.json; pass tokenizer=/path/to/tokenizer.json"):
        load_run(str(qwen2_folder))


@pytest.mark.integration  # real DeepSpeed run (python -m train)
def test_an_export_evaluates_like_its_run(trained_run, tmp_path):  # noqa: F811
    """Export -> checkpoint=EXPORT: the same val loss as checkpoint=RUN (the folder comes back in)."""
    out = tmp_path / "hf"
    run_module("train.export", f"checkpoint={trained_run}", f"out={out}")
    from_run = json.loads(run_module("train.evaluate", f"checkpoint={trained_run}", "max_batches=2").stdout)
    from_hf = json.loads(run_module("train.evaluate", f"checkpoint={out}", f"data.path={from_run['data_path']}",
                                    f"seq_len={from_run['seq_len']}", "max_batches=2").stdout)
    assert from_hf["loss"] == pytest.approx(from_run["loss"], abs=1e-5)
    assert math.isfinite(from_hf["bits_per_byte"])
