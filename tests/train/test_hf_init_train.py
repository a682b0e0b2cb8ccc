"""``model.init_from``: the HF weights are the model at step 0 under ZeRO-2 and ZeRO-3 (2 CPU ranks), an
init -> train 0 steps -> export round trip gives the same tensors back, and training resumes normally."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import run_module
from tests.train.hf_models import save_hf_model
from train.hf.config import read_shape
from train.hf.weights import iter_hf_tensors

TRAIN = ["micro_batch_size=4", "logger.mode=disabled", "data.num_workers=0", "optim.warmup_steps=1",
         "eval_batches=1", "checkpoint_every=10", "eval_every=10", "seq_len=64"]
DATA_VOCAB = 512  # tests/conftest.py's prepared data


def hf_folder_for(prepared_dir: Path, folder: Path, family: str, with_tokenizer: bool, **overrides) -> Path:
    """A random HF model that speaks the prepared data's tokenizer (its tokenizer.json copied in, or none)."""
    manifest = json.loads((prepared_dir / "manifest.json").read_text())
    save_hf_model(folder, family, seed=3, eos_token_id=manifest["tokenizer"]["eos_id"], bos_token_id=None,
                  **{"vocab_size": DATA_VOCAB, **overrides})
    if with_tokenizer:
        shutil.copyfile(prepared_dir / "tokenizer.json", folder / "tokenizer.json")
    return folder


def torchrun_train(*overrides: str, check: bool = True):
    return run_module("torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "train", *TRAIN,
                      *overrides, check=check)


def exported_tensors(run_dir: Path, out: Path) -> dict[str, torch.Tensor]:
    run_module("train.export", f"checkpoint={run_dir}", f"out={out}")
    return load_file(out / "model.safetensors")


@pytest.mark.slow
@pytest.mark.integration
def test_zero3_init_round_trip_then_resume(prepared_dir, tmp_path):
    """Qwen2 shape (q/k/v biases, tied embeddings) under ZeRO-3: partitioned at init, gathered at export."""
    hf = hf_folder_for(prepared_dir, tmp_path / "hf", "qwen2", with_tokenizer=True, tie_word_embeddings=True)
    run_dir = tmp_path / "run"
    torchrun_train(f"data.path={prepared_dir}", f"run_dir={run_dir}", f"model.init_from={hf}", "deepspeed=zero3",
                   "max_steps=0")
    original = dict(iter_hf_tensors(str(hf)))
    exported = exported_tensors(run_dir, tmp_path / "export")
    assert set(exported) == set(original)
    assert all(torch.equal(exported[name], original[name]) for name in original)
    assert read_shape(str(tmp_path / "export")).args == read_shape(str(hf)).args

    # The same command with more steps resumes from step_0: the HF weights are not read again (damaged
    # here on purpose); config.json and the tokenizer are, to check the data at every start.
    (hf / "model.safetensors").write_bytes(b"damaged")
    torchrun_train(f"data.path={prepared_dir}", f"run_dir={run_dir}", f"model.init_from={hf}", "deepspeed=zero3",
                   "max_steps=2")
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "resume" and e["checkpoint"].endswith("step_0") for e in events)
    losses = [e["loss"] for e in events if "loss" in e]
    assert len(losses) >= 1 and all(loss == loss for loss in losses)


@pytest.mark.slow
@pytest.mark.integration
def test_zero2_init_with_vocab_extension(prepared_dir, tmp_path):
    """Llama shape with fewer embedding rows than the data's tokenizer: resize_vocab_to grows them at step 0."""
    rows = 448
    hf = hf_folder_for(prepared_dir, tmp_path / "hf", "llama", with_tokenizer=False, vocab_size=rows)
    run_dir = tmp_path / "run"
    # Refused in one line (one process: torchrun would wrap the exit code), before any weight is read.
    refused = run_module("train", *TRAIN, f"data.path={prepared_dir}", f"run_dir={run_dir}",
                         f"model.init_from={hf}", "max_steps=0", check=False)
    assert refused.returncode == 2
    assert f"set model.resize_vocab_to={DATA_VOCAB} (or more)" in refused.stderr.strip().splitlines()[-1]
    torchrun_train(f"data.path={prepared_dir}", f"run_dir={run_dir}", f"model.init_from={hf}", "deepspeed=zero2",
                   "max_steps=0", f"model.resize_vocab_to={DATA_VOCAB}")
    original = dict(iter_hf_tensors(str(hf)))
    exported = exported_tensors(run_dir, tmp_path / "export")
    for name, tensor in original.items():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert exported[name].shape[0] == DATA_VOCAB
            assert torch.equal(exported[name][:rows], tensor)
            assert torch.allclose(exported[name][rows:], tensor.mean(dim=0).expand(DATA_VOCAB - rows, -1))
        else:
            assert torch.equal(exported[name], tensor), name
