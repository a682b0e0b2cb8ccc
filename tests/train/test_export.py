"""train.export: DeepSpeed checkpoints of every ZeRO stage -> a Hugging Face Llama folder, bit-exact weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from openpretrain.errors import UserError
from tests.conftest import run_module
from tests.train.configs import tool_config
from tests.train.interop_helpers import (  # noqa: F401
    PADDED_VOCAB,
    RUNS,
    TIED,
    WORLD_SIZE,
    stage_run,
    stage_runs,
    trained_run,
)
from train.export import export, hf_name, parse_size

PICKLE_MAGIC = b"\x80"  # protocol 2+ pickles (torch.save) start with PROTO


def _export(run: Path, out: Path, **overrides) -> Path:
    return Path(export(tool_config("export", checkpoint=str(run), out=str(out), **overrides)))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / "model.safetensors.index.json"
    files = set(json.loads(index.read_text())["weight_map"].values()) if index.exists() else {"model.safetensors"}
    return {k: v for f in sorted(files) for k, v in load_file(folder / f).items()}


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
@pytest.mark.parametrize("name", RUNS)
def test_export_is_bit_exact_for_every_zero_stage(stage_runs, tmp_path, name):  # noqa: F811
    """fp32 runs: the engine's weights exactly. bf16 runs: fp32 weights that round to the engine's bf16
    ones (ZeRO 1-3 export the fp32 master copy; ZeRO-0 holds only the bf16 weights)."""
    run = stage_run(stage_runs, name)
    partitions = list((run / "checkpoints" / "step_2").glob("*optim_states.pt"))
    assert len(partitions) == (WORLD_SIZE if RUNS[name][0] > 0 else 0)  # ZeRO 1-3: shards to merge
    out = _export(run, tmp_path / "hf")
    reference = load_file(run / "reference.safetensors")
    exported = _weights(out)
    assert set(exported) == {hf_name(k) for k in reference}
    for key, tensor in reference.items():
        assert exported[hf_name(key)].dtype == torch.float32
        assert torch.equal(exported[hf_name(key)].to(tensor.dtype), tensor), key
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == PADDED_VOCAB and config["tie_word_embeddings"] == (name == TIED)
    assert ("lm_head.weight" in exported) == (name != TIED)
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["suppress_tokens"] == list(range(512, PADDED_VOCAB))  # padding ids never generated
    for path in out.iterdir():
        assert path.suffix in (".json", ".safetensors"), path
        assert not path.read_bytes().startswith(PICKLE_MAGIC), path


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_sharded_export_has_an_index(stage_runs, tmp_path):  # noqa: F811
    out = _export(stage_run(stage_runs, "zero2"), tmp_path / "hf", max_shard_size="100KB")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and not (out / "model.safetensors").exists()
    for shard in shards:  # within the limit, unless one tensor alone exceeds it (the 147 KB embedding)
        tensors = load_file(out / shard)
        assert len(tensors) == 1 or sum(t.numel() * 4 for t in tensors.values()) <= 100_000
    assert index["metadata"]["total_size"] == sum(t.numel() * 4 for t in _weights(out).values())


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_bfloat16_export(stage_runs, tmp_path):  # noqa: F811
    out = _export(stage_run(stage_runs, "zero2"), tmp_path / "hf", dtype="bfloat16")
    assert {t.dtype for t in _weights(out).values()} == {torch.bfloat16}
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_export_cli_on_a_trained_run_loads_in_transformers(trained_run, prepared_dir, tmp_path):  # noqa: F811
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoTokenizer

    out = tmp_path / "hf"
    proc = run_module("train.export", f"checkpoint={trained_run}", f"out={out}")
    assert proc.stdout == ""  # results on disk, logs on stderr
    assert "step_2" in proc.stderr  # the newest *complete* checkpoint, not the unfinished step_3
    hf_tok = AutoTokenizer.from_pretrained(out)
    ours = Tokenizer.from_file(str(prepared_dir / "tokenizer.json"))
    text = "def main(argv):\n    return 0\n"
    assert hf_tok(text)["input_ids"] == ours.encode(text).ids
    assert hf_tok.eos_token == "<|endoftext|>" and hf_tok.eos_token_id == 0
    config = AutoConfig.from_pretrained(out)
    assert (config.hidden_size, config.num_key_value_heads, config.max_position_embeddings) == (64, 2, 128)
    assert config.bos_token_id is None and config.eos_token_id == 0


@pytest.mark.integration  # real DeepSpeed runs (a two-rank torchrun, python -m train)
@pytest.mark.slow  # spawns training subprocesses
def test_export_refuses_to_overwrite(stage_runs, tmp_path):  # noqa: F811
    out = tmp_path / "hf"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="overwrite=true"):
        _export(stage_run(stage_runs, "zero2"), out)
    _export(stage_run(stage_runs, "zero2"), out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").exists()


@pytest.mark.parametrize(("text", "size"), [("5GB", 5 * 10**9), ("100KB", 100_000), ("1.5MB", 1_500_000)])
def test_parse_size(text, size):
    assert parse_size(text) == size


def test_parse_size_rejects_garbage():
    with pytest.raises(UserError, match="max_shard_size"):
        parse_size("lots")
