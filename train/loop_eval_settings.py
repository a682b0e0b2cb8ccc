"""What one loop round's evaluation measures and how it samples: the one schema of those settings.

``python -m train.loop_eval`` takes them at the top level (``LoopEvalConfig`` adds the paths), the loop
driver as ``loop.eval.*`` (``launch.loop.config``); defaults live in conf/loop_eval.yaml and
conf/loop/default.yaml. Kept free of torch so that the launcher imports it cheaply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from openpretrain.errors import require


@dataclass
class LoopEvalSettings:
    """The collapse monitor and val scoring: fixed prompts from the real val split, fixed seed."""

    num_prompts: int = MISSING  # the first N real val samples give the fixed prompts
    prompt_tokens: int = MISSING
    max_new_tokens: int = MISSING
    temperature: float = MISSING
    top_k: int = MISSING
    top_p: float = MISSING
    seed: int = MISSING
    tail_quantile: float = MISSING
    batch_size: int = MISSING
    max_batches: int | None = MISSING  # of the val split; None = all of it


def validate_settings(settings: LoopEvalSettings, prefix: str = "") -> None:
    """One line naming ``prefix + key`` for a value out of range."""
    for key in ("num_prompts", "prompt_tokens", "max_new_tokens", "batch_size"):
        value = getattr(settings, key)
        require(value >= 1, f"{prefix}{key}", f"must be >= 1, got {value}")
    require(0 < settings.tail_quantile < 1, f"{prefix}tail_quantile",
            f"must be in (0, 1), got {settings.tail_quantile}")


def settings_overrides(settings: LoopEvalSettings) -> list[str]:
    """``key=value`` for every setting, as ``python -m train.loop_eval`` takes them."""
    values: dict[str, Any] = {f.name: getattr(settings, f.name) for f in dataclasses.fields(LoopEvalSettings)}
    return [f"{key}={'null' if value is None else value}" for key, value in values.items()]
