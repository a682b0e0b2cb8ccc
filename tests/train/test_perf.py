"""Unit tests for train/perf/: arch-list fix, chunked cross-entropy, optimizer choice, MFU."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from openpretrain.errors import ConfigError
from tests.train.configs import section, train_config
from train.config import validate
from train.model import ModelArgs, Transformer
from train.perf import (
    DEEPSPEED_CPU_ADAM,
    DEEPSPEED_FUSED_ADAM,
    TORCH_ADAMW,
    apply_model_options,
    build_optimizer,
    fix_cuda_arch_list,
    flops_per_token,
    linear_cross_entropy,
    mfu,
    model_flops_per_token,
    normalise_cuda_arch_list,
    optimizer_kind,
    param_groups,
    peak_flops_for,
)

TINY = ModelArgs(dim=32, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=64, vocab_size=256, max_seq_len=64)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9.0a", "9.0"),
        ("8.0;9.0a+PTX", "8.0;9.0+PTX"),
        ("8.0 8.6 9.0a 10.0f+PTX", "8.0;8.6;9.0;10.0+PTX"),
        ("9.0;9.0a", "9.0"),
        ("Hopper", "9.0"),
        ("7.5;8.0", "7.5;8.0"),
    ],
)
def test_normalise_cuda_arch_list(raw: str, expected: str) -> None:
    assert normalise_cuda_arch_list(raw) == expected


def test_fix_cuda_arch_list_makes_deepspeed_builder_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepspeed.ops.op_builder.fused_adam import FusedAdamBuilder

    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "8.0;9.0a")
    builder = FusedAdamBuilder()
    builder.jit_mode = True  # the path taken when an optimizer JIT-builds its kernel at startup
    with pytest.raises(ValueError, match="0a"):
        builder.compute_capability_args()  # the bug on the H100 image, reproduced
    assert fix_cuda_arch_list() == "8.0;9.0"
    builder.compute_capability_args()
    assert os.environ["TORCH_CUDA_ARCH_LIST"] == "8.0;9.0+PTX"  # DeepSpeed's own canonical form


def test_fix_cuda_arch_list_leaves_unset_env_alone() -> None:
    env: dict[str, str] = {}
    assert fix_cuda_arch_list(env) is None
    assert env == {}


def _plain_ce(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = (hidden @ weight.t()).float()
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_ce_matches_plain_loss_and_grads(chunk: int) -> None:
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 24, 16, generator=gen, requires_grad=True)
    weight = torch.randn(300, 16, generator=gen, requires_grad=True)
    targets = torch.randint(0, 300, (2, 24), generator=gen)
    targets[0, :5] = -100  # ignored positions must not count in the mean nor get gradient
    ref = _plain_ce(hidden, weight, targets)
    ref_grads = torch.autograd.grad(ref * 3.0, (hidden, weight))  # a non-unit upstream gradient
    got = linear_cross_entropy(hidden, weight, targets, chunk)
    got_grads = torch.autograd.grad(got * 3.0, (hidden, weight))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    for g, r in zip(got_grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-6)
    assert got_grads[0][0, :5].abs().max() == 0


def test_chunked_ce_bf16_close_to_plain() -> None:
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(64, 32, generator=gen).bfloat16().requires_grad_()
    weight = (torch.randn(512, 32, generator=gen) * 0.1).bfloat16().requires_grad_()
    targets = torch.randint(0, 512, (64,), generator=gen)
    ref = _plain_ce(hidden, weight, targets)
    ref_grads = torch.autograd.grad(ref, (hidden, weight))
    got = linear_cross_entropy(hidden, weight, targets, 16)
    got_grads = torch.autograd.grad(got, (hidden, weight))
    assert got.dtype == torch.float32 and got_grads[1].dtype == torch.bfloat16
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    for g, r in zip(got_grads, ref_grads):
        assert ((g.float() - r.float()).norm() / r.float().norm()) < 1e-2


def test_chunked_ce_without_grad_and_all_ignored() -> None:
    hidden, weight = torch.randn(10, 8), torch.randn(40, 8)
    targets = torch.randint(0, 40, (10,))
    with torch.no_grad():
        torch.testing.assert_close(linear_cross_entropy(hidden, weight, targets, 3), _plain_ce(hidden, weight, targets))
    ignored = torch.full((10,), -100)
    assert linear_cross_entropy(hidden, weight.requires_grad_(), ignored, 4).item() == 0.0


def test_model_forward_still_returns_logits_and_loss_paths_agree() -> None:
    torch.manual_seed(0)
    model = Transformer(TINY)
    tokens = torch.randint(0, TINY.vocab_size, (2, 17))
    assert model(tokens[:, :-1]).shape == (2, 16, TINY.vocab_size)
    plain = model.loss(tokens[:, :-1], tokens[:, 1:])
    apply_model_options(model, section("perf", loss_chunk_size=5, activation_checkpointing=2))
    torch.testing.assert_close(model(tokens[:, :-1], targets=tokens[:, 1:]), plain)
    assert "lm_head.weight" in model.state_dict()


def test_activation_checkpointing_only_in_training() -> None:
    model = Transformer(TINY)
    model.checkpoint_every = 2
    assert [model._checkpointed(i) for i in range(TINY.n_layers)] == [True, False, True]
    model.eval()
    assert not any(model._checkpointed(i) for i in range(TINY.n_layers))


def test_param_groups_decay_only_matrices() -> None:
    model = Transformer(TINY)
    decay, no_decay = param_groups(model.parameters(), 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def _cfg(offload: str = "none", fused: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        optim=section("optim"), deepspeed=SimpleNamespace(offload_optimizer=offload), perf=section("perf", fused_adam=fused)
    )


def test_optimizer_kind() -> None:
    assert optimizer_kind(_cfg(), "cuda") == DEEPSPEED_FUSED_ADAM
    assert optimizer_kind(_cfg(fused=False), "cuda") == TORCH_ADAMW
    assert optimizer_kind(_cfg(), "cpu") == TORCH_ADAMW
    assert optimizer_kind(_cfg(offload="cpu"), "cuda") == DEEPSPEED_CPU_ADAM


def test_build_optimizer_on_cpu_is_torch_adamw() -> None:
    model = Transformer(TINY)
    opt = build_optimizer(model.parameters(), _cfg(), device_type="cpu")
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.defaults["betas"] == (section("optim").beta1, section("optim").beta2)
    assert [g["weight_decay"] for g in opt.param_groups] == [section("optim").weight_decay, 0.0]


def test_mfu_reproduces_issue_table() -> None:
    tinyllama = ModelArgs(dim=2048, n_layers=22, n_heads=32, n_kv_heads=4, ffn_dim=5632, vocab_size=32000)
    with torch.device("meta"):
        model = Transformer(tinyllama)
    fpt = model_flops_per_token(model, 2048)
    assert fpt == flops_per_token(model.num_params() + 32000 * 2048, 22, 2048, 2048)
    # Issue 6's reference rows: HF + ZeRO-2 and the minimal Llama + compile.
    assert mfu(34_447, fpt, 989e12) == pytest.approx(0.255, abs=5e-4)
    assert mfu(68_287, fpt, 989e12) == pytest.approx(0.505, abs=5e-4)
    assert peak_flops_for("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops_for("NVIDIA H100 PCIe") == 756e12
    assert peak_flops_for("cpu") is None


def test_perf_config_validation() -> None:
    cfg = train_config()
    cfg.data.path = "d"
    cfg.perf.loss_chunk_size = -1
    with pytest.raises(ConfigError, match="perf.loss_chunk_size"):
        validate(cfg)
    cfg.perf.loss_chunk_size, cfg.perf.activation_checkpointing = 0, -2
    with pytest.raises(ConfigError, match="perf.activation_checkpointing"):
        validate(cfg)


def test_training_attention_uses_fused_sdpa_kernel_not_math() -> None:
    """Nothing in the training path (masks, dropout, dtype, forced backends) pushes SDPA to its math fallback."""
    model = Transformer(TINY)
    tokens = torch.randint(0, TINY.vocab_size, (2, 17))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(tokens[:, :-1], targets=tokens[:, 1:]).backward()
    ops = {event.key for event in prof.key_averages()}
    assert any("flash_attention" in op for op in ops), sorted(op for op in ops if "attention" in op)
    assert not any("attention_math" in op for op in ops)


def test_fused_adam_build_failure_falls_back_to_torch_fused(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import deepspeed.ops.adam

    class Unbuildable:  # what a machine without nvcc gives: the JIT build raises at construction
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("Error building extension 'fused_adam': nvcc not found")

    monkeypatch.setattr(deepspeed.ops.adam, "FusedAdam", Unbuildable)
    opt = build_optimizer(Transformer(TINY).parameters(), _cfg(), device_type="cuda")
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["fused"] is True
    assert "FusedAdam unavailable" in caplog.text
