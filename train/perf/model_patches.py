"""Model-side levers from cfg.perf: chunked loss, selective activation checkpointing, SDPA backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import nn

from train.perf.optimizer import _enum_value

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
