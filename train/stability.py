"""Issue 4 stability rules: non-finite steps are skipped and counted; loss spikes trigger a rollback.

Non-finite steps are detected by DeepSpeed's optimizers (ZeRO 1-3, bf16) or by our guard on plain fp32
ZeRO-0 (train.engine.guard_nonfinite_steps): the update is not applied and ``engine.skipped_steps`` grows.
A spike is a finite loss above ``spike_factor`` x the mean of the last ``spike_window`` good losses; the
loop then reloads the last complete checkpoint and keeps the data stream where it is, so the batches
from the checkpoint up to and including the spike are skipped (the remedy of PaLM, sec. 5.1).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from openpretrain.errors import UserError
from train.config import StabilityConfig


class SpikeDetector:
    """Running mean of recent finite losses; every rank feeds it the same all-reduced loss."""

    def __init__(self, cfg: StabilityConfig) -> None:
        self.factor = cfg.spike_factor
        self.min_history = cfg.spike_min_history
        self.history: deque[float] = deque(maxlen=cfg.spike_window)

    @property
    def running_mean(self) -> float | None:
        return sum(self.history) / len(self.history) if self.history else None

    def state_dict(self) -> dict[str, Any]:
        """The recent losses: a resumed run judges its next loss against the same mean as an unbroken one."""
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """``None``: a checkpoint from before the history was saved; judging restarts after min_history."""
        self.history.clear()
        if state:
            self.history.extend(float(x) for x in state["history"])

    def is_spike(self, loss: float) -> bool:
        """Judge ``loss``; a normal loss joins the history, a spike or non-finite loss does not."""
        if not math.isfinite(loss):
            return False
        mean = self.running_mean
        spike = self.factor > 0 and len(self.history) >= self.min_history and loss > self.factor * mean
        if not spike:
            self.history.append(loss)
        return spike


@dataclass
class StabilityCounters:
    """Counts for this process; skipped steps of earlier runs live in DeepSpeed's own counter."""

    skipped_steps: int = 0
    spikes: int = 0
    rollbacks: int = 0
    skipped_batches: int = 0  # global batches dropped by rollbacks

    def count_skipped(self, cfg: StabilityConfig, step: int) -> None:
        self.skipped_steps += 1
        if self.skipped_steps > cfg.max_skipped_steps:
            raise UserError(f"step {step}: {self.skipped_steps} steps had a non-finite loss or gradient norm "
                            f"(stability.max_skipped_steps={cfg.max_skipped_steps}); lower optim.lr or check the data")

    def count_rollback(self, cfg: StabilityConfig, step: int) -> None:
        self.rollbacks += 1
        if self.rollbacks > cfg.max_rollbacks:
            raise UserError(f"step {step}: the loss spiked {self.rollbacks} times "
                            f"(stability.max_rollbacks={cfg.max_rollbacks}); lower optim.lr or raise warmup")
