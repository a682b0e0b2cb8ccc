"""Which Adam a run uses (DeepSpeed FusedAdam / DeepSpeedCPUAdam / torch AdamW); decay on matrices only."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)


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
