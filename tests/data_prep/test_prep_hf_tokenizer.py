"""``tokenizer=hf tokenizer.path=HF_DIR``: data prepared with a Hugging Face model folder's own tokenizer."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from data_prep.api import prepare
from openpretrain.errors import UserError
from openpretrain.manifest import file_sha256

TEXTS = [f"def function_{i}(value):\n    return value * {i} + {i * i}\n" for i in range(60)]


def model_folder(folder: Path, eos_in: str = "config") -> Path:
    """A model folder as transformers writes one: tokenizer.json plus the EOS id or token."""
    folder.mkdir()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(folder / "tokenizer.json"))
    if eos_in == "config":
        (folder / "config.json").write_text(json.dumps({"model_type": "llama", "eos_token_id": 1, "bos_token_id": 0}))
    elif eos_in == "tokenizer_config":
        (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "</s>"}}))
    return folder


def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    return path


def run_prep(tmp_path: Path, *overrides: str):
    return prepare([f"out_dir={tmp_path / 'out'}", "source=local", f"source.paths=[{corpus(tmp_path)}]",
                    "seq_len=16", "samples_per_shard=64", "val_fraction=0", "progress=false", "report=false",
                    "tokenizer=hf", *overrides])


@pytest.mark.parametrize("eos_in", ["config", "tokenizer_config"])
def test_the_models_own_tokenizer_and_eos(tmp_path, eos_in):
    folder = model_folder(tmp_path / "model", eos_in)
    manifest = run_prep(tmp_path, f"tokenizer.path={folder}")
    info = manifest.tokenizer
    # Byte for byte the folder's file: the sha256 that train.evaluate compares with the model's.
    assert info.sha256 == file_sha256(folder / "tokenizer.json") == file_sha256(tmp_path / "out" / "tokenizer.json")
    assert info.origin == f"hf:{folder}"
    assert info.eos_id == 1 and info.bos_id is None
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    with tarfile.open(tmp_path / "out" / manifest.shards[0].path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("tokens.npy"))
        ids = np.load(io.BytesIO(tar.extractfile(member).read())).tolist()
    assert 1 in ids  # documents joined with the model's EOS
    assert "def function_" in tok.decode(ids)


def test_hf_tokenizer_errors_are_one_line(tmp_path):
    folder = model_folder(tmp_path / "model", eos_in="none")
    with pytest.raises(UserError, match="names no EOS token .*; set tokenizer.eos_token=") as err:
        run_prep(tmp_path, f"tokenizer.path={folder}")
    assert "\n" not in str(err.value)
    manifest = run_prep(tmp_path, f"tokenizer.path={folder}", "tokenizer.eos_token='</s>'", "overwrite=true")
    assert manifest.tokenizer.eos_id == 1
    with pytest.raises(UserError, match="holds no tokenizer.json"):
        run_prep(tmp_path, f"tokenizer.path={tmp_path}", "overwrite=true")
    with pytest.raises(UserError, match="exactly one of tokenizer.path=HF_DIR .* or tokenizer.name=ORG/NAME"):
        run_prep(tmp_path)
