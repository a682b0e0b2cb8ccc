"""Performance levers for the training step (issue 6), each one switchable from ``perf:`` in conf/train.yaml.

- ``fix_cuda_arch_list``: make TORCH_CUDA_ARCH_LIST parseable by DeepSpeed's op builder.
- ``linear_cross_entropy``: lm_head + cross-entropy in token chunks, never the full fp32 logits.
- ``build_optimizer``: DeepSpeed FusedAdam / DeepSpeedCPUAdam / torch AdamW, decay on matrices only.
- ``apply_model_options``: chunked loss, selective activation checkpointing, SDPA backend choice.
- ``flops_per_token`` / ``mfu``: the MFU formula of Contract 5.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# TORCH_CUDA_ARCH_LIST
# ---------------------------------------------------------------------------------------------------

# PyTorch accepts architecture names as well as numbers; DeepSpeed's builder only parses "X.Y[+PTX]".
_NAMED_ARCHS = {
    "Pascal": "6.0;6.1",
    "Volta": "7.0",
    "Turing": "7.5",
    "Ampere": "8.0;8.6",
    "Ada": "8.9",
    "Hopper": "9.0",
    "Blackwell": "10.0",
}
# "9.0a" (arch-specific) and "10.0f" (family) suffixes: DeepSpeed does int("0a") and crashes.
_ARCH_ENTRY = re.compile(r"^(\d+)\.(\d+)[a-zA-Z]*$")
_PTX = "+PTX"


def _normalise_entry(entry: str) -> list[str]:
    base, ptx = (entry[: -len(_PTX)], _PTX) if entry.endswith(_PTX) else (entry, "")
    archs = _NAMED_ARCHS.get(base, base).split(";")
    fixed = []
    for arch in archs:
        match = _ARCH_ENTRY.match(arch)
        fixed.append(f"{match.group(1)}.{match.group(2)}" if match else arch)
    fixed[-1] += ptx  # "+PTX" on a name applies to its newest architecture, as in PyTorch
    return fixed


def normalise_cuda_arch_list(value: str) -> str:
    """``"8.0;9.0a+PTX"`` -> ``"8.0;9.0+PTX"``: drop arch suffixes, expand names, dedupe, ';'-join.

    Entries that still do not look like an architecture are kept as they are, so the builder's own
    error message (naming the entry) reaches the user instead of a silent change.
    """
    out: list[str] = []
    for raw in value.replace(",", ";").replace(" ", ";").split(";"):
        for arch in _normalise_entry(raw.strip()) if raw.strip() else []:
            if arch not in out:
                out.append(arch)
    return ";".join(out)


def fix_cuda_arch_list(environ: MutableMapping[str, str] | None = None) -> str | None:
    """Normalise TORCH_CUDA_ARCH_LIST in place; call before DeepSpeed builds any op. Returns the new value."""
    env = os.environ if environ is None else environ
    value = env.get("TORCH_CUDA_ARCH_LIST")
    if value is None:
        return None
    fixed = normalise_cuda_arch_list(value)
    if fixed != value:
        log.info("TORCH_CUDA_ARCH_LIST=%r rewritten to %r for DeepSpeed's op builder", value, fixed)
        env["TORCH_CUDA_ARCH_LIST"] = fixed
    return fixed


# ---------------------------------------------------------------------------------------------------
# Chunked linear + cross-entropy
# ---------------------------------------------------------------------------------------------------


def _chunk_logits(hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    # Matmul in the compute dtype (bf16 on GPU), softmax statistics in fp32 — as the plain path does.
    return (hidden @ weight.t()).float()


def _chunk_loss_sum(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    lse = torch.logsumexp(logits, dim=-1)
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    target_logit = logits.gather(1, safe_targets[:, None]).squeeze(1)
    return ((lse - target_logit) * valid).sum(), lse, safe_targets


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean CE of ``hidden @ weight.T``; gradients are computed chunk by chunk during forward.

    Peak extra memory is O(chunk x vocab) instead of O(tokens x vocab): each chunk's fp32 logits are
    turned into d(loss)/d(logits) in place and immediately contracted into the hidden and weight grads.
    Computing grads in forward avoids recomputing the lm_head matmul in backward (the loss is always
    followed by backward in training; the no-grad path below skips this work).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_size: int, ignore_index: int):  # noqa: ANN001, ANN205
        valid_all = targets != ignore_index
        # A tensor, not a Python int: no host sync inside the step.
        n_valid = valid_all.sum().clamp(min=1).float()
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size]
            t, valid = targets[start : start + chunk_size], valid_all[start : start + chunk_size]
            logits = _chunk_logits(h, weight)
            loss_sum, lse, safe_targets = _chunk_loss_sum(logits, t, valid)
            total += loss_sum
            # d(mean CE)/d(logits) = (softmax - onehot) * valid / n_valid, built in the logits buffer.
            grad_logits = logits.sub_(lse[:, None]).exp_()
            grad_logits.scatter_add_(1, safe_targets[:, None], torch.full_like(lse[:, None], -1.0))
            grad_logits.mul_((valid / n_valid)[:, None])
            grad_logits = grad_logits.to(hidden.dtype)
            grad_hidden[start : start + chunk_size] = grad_logits @ weight
            grad_weight.add_(grad_logits.t() @ h)
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return total / n_valid

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_output.to(grad_hidden.dtype), grad_weight * grad_output.to(grad_weight.dtype), None, None, None


def _linear_cross_entropy_no_grad(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int, ignore_index: int
) -> torch.Tensor:
    valid_all = targets != ignore_index
    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    for start in range(0, hidden.shape[0], chunk_size):
        logits = _chunk_logits(hidden[start : start + chunk_size], weight)
        total += _chunk_loss_sum(logits, targets[start : start + chunk_size], valid_all[start : start + chunk_size])[0]
    return total / valid_all.sum().clamp(min=1).float()


def linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_size: int, ignore_index: int = -100
) -> torch.Tensor:
    """Mean next-token CE of ``hidden @ weight.T`` against ``targets``, ``chunk_size`` tokens at a time.

    hidden: (..., dim), weight: (vocab, dim), targets: (...). Ignored targets do not count in the mean;
    a batch with no valid target gives 0 (the plain path would give NaN).
    """
    hidden = hidden.reshape(-1, hidden.shape[-1])
    targets = targets.reshape(-1)
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(hidden, weight, targets, chunk_size, ignore_index)
    return _linear_cross_entropy_no_grad(hidden, weight, targets, chunk_size, ignore_index)


# ---------------------------------------------------------------------------------------------------
# Optimizer
# ---------------------------------------------------------------------------------------------------

def _enum_value(value: Any) -> str:
    """Config enums (str subclasses) and plain strings alike."""
    return str(getattr(value, "value", value))


DEEPSPEED_FUSED_ADAM = "deepspeed_fused_adam"
DEEPSPEED_CPU_ADAM = "deepspeed_cpu_adam"
TORCH_ADAMW = "torch_adamw"


def optimizer_kind(cfg: Any, device_type: str) -> str:
    """Which Adam implementation a run uses (cfg: TrainConfig)."""
    if _enum_value(cfg.deepspeed.offload_optimizer) == "cpu":
        # ZeRO-Offload steps on the host; DeepSpeed refuses other optimizers there by default.
        return DEEPSPEED_CPU_ADAM
    if device_type == "cuda" and cfg.perf.fused_adam:
        return DEEPSPEED_FUSED_ADAM
    return TORCH_ADAMW


def param_groups(params: Iterable[nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices (>= 2-D: linear and embedding weights) only, never on norms or biases."""
    decay, no_decay = [], []
    for p in params:
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(
    params: Iterable[nn.Parameter], cfg: Any, device_type: str | None = None
) -> torch.optim.Optimizer:
    """AdamW for ``params`` from cfg (TrainConfig: optim, deepspeed.offload_optimizer, perf.fused_adam).

    device_type defaults to "cuda" when a GPU is visible. Call fix_cuda_arch_list() before this: the
    DeepSpeed optimizers JIT-build their kernels on first construction.
    """
    device_type = device_type or ("cuda" if torch.cuda.is_available() else "cpu")
    o = cfg.optim
    groups = param_groups(params, o.weight_decay)
    kind = optimizer_kind(cfg, device_type)
    common = {"lr": o.lr, "betas": (o.beta1, o.beta2), "eps": o.eps}
    if kind == DEEPSPEED_CPU_ADAM:
        return _deepspeed_cpu_adam(groups, common)
    if kind == DEEPSPEED_FUSED_ADAM:
        try:
            from deepspeed.ops.adam import FusedAdam

            return FusedAdam(groups, adam_w_mode=True, **common)
        except Exception as exc:  # noqa: BLE001 - any JIT build failure (no nvcc, no ninja, bad arch list)
            # Same math, nearly the same speed: a missing CUDA toolchain should not stop a run.
            log.warning("DeepSpeed FusedAdam unavailable (%s: %s); using torch.optim.AdamW(fused=True)",
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    # fused=True: one kernel for all tensors on CUDA; foreach (the default) elsewhere.
    return torch.optim.AdamW(groups, fused=True if device_type == "cuda" else None, **common)


def _deepspeed_cpu_adam(groups: list[dict[str, Any]], common: dict[str, Any]) -> torch.optim.Optimizer:
    try:
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        return DeepSpeedCPUAdam(groups, adamw_mode=True, **common)
    except Exception as exc:  # noqa: BLE001 - the JIT build of the cpu_adam op
        from openpretrain.errors import UserError

        raise UserError(
            f"deepspeed.offload_optimizer=cpu needs DeepSpeed's CPU Adam, which failed to build "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); it needs a C++ compiler "
            "and ninja, or use a deepspeed config without optimizer offload"
        ) from exc


# ---------------------------------------------------------------------------------------------------
# Model options, SDPA backend
# ---------------------------------------------------------------------------------------------------

SDPA_BACKENDS = ("auto", "flash", "cudnn", "efficient", "math")


@contextlib.contextmanager
def sdpa_backend(name: str) -> Iterator[None]:
    """Restrict SDPA to one backend ("auto" = let PyTorch pick: flash / cuDNN on a recent GPU)."""
    if name == "auto":
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "math": SDPBackend.MATH,
    }[name]
    with sdpa_kernel([backend]):
        yield


def apply_model_options(model: nn.Module, perf: Any) -> nn.Module:
    """Switch on the model-side levers from cfg.perf (chunked loss, activation checkpointing, SDPA)."""
    model.loss_chunk_size = perf.loss_chunk_size
    model.checkpoint_every = perf.activation_checkpointing
    model.sdpa_backend = _enum_value(perf.sdpa_backend)
    return model


# ---------------------------------------------------------------------------------------------------
# MFU (Contract 5)
# ---------------------------------------------------------------------------------------------------

# Dense bf16 tensor-core peak per GPU, FLOP/s (vendor datasheets, without sparsity).
PEAK_BF16_FLOPS = {
    "H100 SXM": 989e12,
    "H100 PCIe": 756e12,
    "H200": 989e12,
    "A100": 312e12,
}


def flops_per_token(n_non_embedding: int, n_layers: int, dim: int, seq_len: int) -> float:
    """Training FLOPs per token: 6N for the matmuls plus 12·L·d·T for attention scores and values."""
    return 6.0 * n_non_embedding + 12.0 * n_layers * dim * seq_len


def model_flops_per_token(model: nn.Module, seq_len: int) -> float:
    """``flops_per_token`` for our Transformer; N counts the lm_head matmul (vocab x dim), not the lookup.

    The output projection is a real matmul (6·V·d FLOPs per token) even though its weight is
    "embedding-sized"; counting it reproduces issue 6's reference table (34,447 tok/s = 25.5% MFU for
    TinyLlama-1.1B at seq 2048 on an H100), which leaving it out would not (24.1%).
    """
    args = model.args
    n_matmul = model.num_params(non_embedding=True) + args.vocab_size * args.dim
    return flops_per_token(n_matmul, args.n_layers, args.dim, seq_len)


def mfu(tokens_per_s: float, flops_per_tok: float, peak_flops: float) -> float:
    return tokens_per_s * flops_per_tok / peak_flops


def peak_flops_for(device_name: str) -> float | None:
    """Peak for a ``torch.cuda.get_device_name()`` string, or None when the GPU is not in the table."""
    name = device_name.upper()
    if "H100" in name:
        return PEAK_BF16_FLOPS["H100 PCIe" if "PCIE" in name else "H100 SXM"]
    for key, value in PEAK_BF16_FLOPS.items():
        if key.split()[0] in name:
            return value
    return None
