"""HF folders in: which config fields are refused (one line each), the tokenizer check, vocab resizing."""

from __future__ import annotations

import json

import pytest
import torch

from openpretrain.errors import UserError
from openpretrain.hf_folder import special_id
from tests.train.hf_models import VOCAB, hf_config, save_hf_model, word_tokenizer
from train.hf.config import shape_from_config
from train.hf.pretrained import load_pretrained, resolve_folder
from train.hf.tokenizer import check_data_tokenizer
from train.hf.weights import iter_hf_tensors


def config_dict(family: str, **overrides) -> dict:
    return {**hf_config(family).to_dict(), **overrides}


@pytest.mark.parametrize(("family", "overrides", "expected"), [
    ("llama", {"rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0}}, "rope scaling type 'llama3'"),
    ("llama", {"rope_scaling": {"type": "linear", "factor": 2.0}, "rope_parameters": None}, "rope scaling type 'linear'"),
    ("llama", {"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ("llama", {"attention_bias": True}, "attention_bias=true"),
    ("llama", {"mlp_bias": True}, "mlp_bias=true"),
    ("llama", {"head_dim": 32}, "head_dim=32"),
    ("qwen2", {"use_sliding_window": True}, "use_sliding_window=true"),
    ("qwen2", {"layer_types": ["full_attention", "sliding_attention"]}, "layer_types"),
    ("llama", {"model_type": "gpt2"}, "model_type 'gpt2' is not supported (supported: llama, mistral, qwen2)"),
])
def test_unsupported_fields_are_refused_by_name(family, overrides, expected):
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")) as err:
        shape_from_config(config_dict(family, **overrides), "HF_DIR")
    assert "\n" not in str(err.value)


def test_every_unsupported_field_is_named_at_once():
    with pytest.raises(UserError) as err:
        shape_from_config(config_dict("llama", hidden_act="gelu", mlp_bias=True), "HF_DIR")
    assert "hidden_act" in str(err.value) and "mlp_bias" in str(err.value)


def test_supported_shapes():
    llama = shape_from_config(config_dict("llama", tie_word_embeddings=True), "d").args
    assert (llama.dim, llama.n_layers, llama.n_heads, llama.n_kv_heads, llama.ffn_dim) == (64, 2, 4, 2, 160)
    assert llama.rope_theta == 50000.0 and llama.tie_embeddings and not llama.qkv_bias
    assert llama.vocab_size == VOCAB and llama.max_seq_len == 256 and llama.norm_eps == 1e-5
    assert shape_from_config(config_dict("qwen2"), "d").args.qkv_bias
    # transformers 4.x configs: rope_theta at the top level, no rope_parameters.
    old = config_dict("llama", rope_theta=123.0, rope_parameters=None)
    assert shape_from_config(old, "d").args.rope_theta == 123.0


def test_mistral_sliding_window_caps_the_context():
    """Within the window sliding-window attention is full causal attention; longer is not implemented."""
    shape = shape_from_config(config_dict("mistral", sliding_window=128, max_position_embeddings=4096), "d")
    assert shape.args.max_seq_len == 128
    assert shape_from_config(config_dict("mistral", sliding_window=None), "d").args.max_seq_len == 256


def test_folder_errors_are_one_line(tmp_path):
    for bad, expected in ((tmp_path / "nope", "directory does not exist"), (tmp_path, "not a Hugging Face model")):
        with pytest.raises(UserError, match=expected):
            resolve_folder(str(bad))
    folder = save_hf_model(tmp_path / "m", "llama")
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="cannot read it as safetensors"):
        list(iter_hf_tensors(str(folder)))


def test_hub_id_without_the_hub_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="not a local folder and the Hugging Face hub did not serve it"):
        resolve_folder("some-org/some-model-that-is-not-cached")


def test_weights_the_config_does_not_describe_are_refused(tmp_path):
    folder = save_hf_model(tmp_path / "m", "llama")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 128}))
    with pytest.raises(UserError, match=r"mlp.down_proj.weight has shape \(64, 160\), its config.json says \(64, 128\)"):
        load_pretrained(str(folder))


# -- tokenizer ----------------------------------------------------------------------------------------------
BASE = ["<unk>", "<s>", "</s>", "a", "b", "c"]


def test_same_tokenizer_passes_and_special_ids_are_read(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    model_tok = word_tokenizer(folder / "tokenizer.json", BASE)
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "</s>"}, "bos_token": "<s>"}))
    check = check_data_tokenizer(str(model_tok), str(folder), model_rows=8, resize_to=None)
    assert check is not None and not check.extends
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_tok))
    assert (special_id(str(folder), tok, "eos"), special_id(str(folder), tok, "bos")) == (2, 1)
    (folder / "config.json").write_text(json.dumps({"eos_token_id": [5, 2]}))
    assert special_id(str(folder), tok, "eos") == 5


def test_other_tokenizer_is_refused_naming_the_token(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    word_tokenizer(folder / "tokenizer.json", BASE)
    data = word_tokenizer(tmp_path / "data.json", ["<unk>", "<s>", "</s>", "b", "a", "c"])
    with pytest.raises(UserError, match="'a' is id 3 in the model, id 4 in the data; prepare the data with "
                                        "tokenizer=hf tokenizer.path="):
        check_data_tokenizer(str(data), str(folder), model_rows=8, resize_to=None)


def test_extension_needs_resize_vocab_to(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    word_tokenizer(folder / "tokenizer.json", BASE)
    data = word_tokenizer(tmp_path / "data.json", BASE + ["你", "好", "们"])
    with pytest.raises(UserError, match="extends the model's 6 tokens to 9, more than the model's 8 embedding rows; "
                                        "set model.resize_vocab_to=9"):
        check_data_tokenizer(str(data), str(folder), model_rows=8, resize_to=None)
    assert check_data_tokenizer(str(data), str(folder), model_rows=8, resize_to=16).extends


def test_without_a_model_tokenizer_only_sizes_are_checked(tmp_path):
    data = word_tokenizer(tmp_path / "data.json", BASE)
    assert check_data_tokenizer(str(data), str(tmp_path), model_rows=6, resize_to=None) is None
    with pytest.raises(UserError, match="has 6 tokens, more than the model's 5 embedding rows"):
        check_data_tokenizer(str(data), str(tmp_path), model_rows=5, resize_to=None)


# -- vocabulary extension ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tied", [False, True])
def test_resize_keeps_old_rows_and_starts_new_rows_at_their_mean(tmp_path, tied):
    folder = save_hf_model(tmp_path / "m", "qwen2", tie_word_embeddings=tied)
    base = load_pretrained(str(folder))
    grown = load_pretrained(str(folder), resize_vocab_to=VOCAB + 64)
    assert grown.args.vocab_size == VOCAB + 64
    for name in ("embed_tokens", "lm_head"):
        old, new = getattr(base, name).weight, getattr(grown, name).weight
        assert torch.equal(new[:VOCAB], old)
        assert torch.allclose(new[VOCAB:], old.mean(dim=0).expand(64, -1))
    # The old tokens' logits are untouched: the model computes the same thing on old text.
    tokens = torch.randint(0, VOCAB, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(grown(tokens)[..., :VOCAB], base(tokens))
    with pytest.raises(UserError, match="below the model's 320 embedding rows"):
        load_pretrained(str(folder), resize_vocab_to=VOCAB - 1)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_export_config_reads_back_to_the_same_args(qkv_bias):
    from train.hf.config import to_hf_config
    from train.model import ModelArgs

    args = ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=160, vocab_size=384, max_seq_len=512,
                     rope_theta=1e6, norm_eps=1e-6, tie_embeddings=True, init_std=0.02, qkv_bias=qkv_bias)
    config = to_hf_config(args, bos_id=None, eos_id=0, dtype="float32")
    assert config["architectures"] == ["Qwen2ForCausalLM" if qkv_bias else "LlamaForCausalLM"]
    shape = shape_from_config(json.loads(json.dumps(config)), "d")
    assert shape.args == args and shape.eos_id == 0 and shape.bos_id is None
