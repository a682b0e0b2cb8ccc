"""The loop's own state as checkpointable parts: counters (step, tokens, W&B id) and every rank's RNG streams.

Each part has ``state_dict()`` / ``load_state_dict()``; the checkpoint manager saves and restores them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class TrainState:
    """The loop's counters; DeepSpeed keeps the model, optimizer, schedule and skipped-step count."""

    step: int = 0
    tokens_seen: int = 0
    wandb_run_id: str = ""  # the metrics' W&B run: a resume continues the same run
    rollbacks: int = 0

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.tokens_seen = int(state["tokens_seen"])
        self.wandb_run_id = state.get("wandb_run_id") or self.wandb_run_id
        self.rollbacks = int(state.get("rollbacks", 0))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class RngState:
    """This rank's Python / NumPy / torch (/ CUDA) RNG streams. Per rank: the manager gathers every rank's.

    On another world size the saved streams do not map onto the new ranks; they are re-derived from
    the seed and the step instead, so a resumed run is still deterministic.
    """

    per_rank = True

    def __init__(self, seed: int, rank: int, world_size: int, train_state: TrainState) -> None:
        self.seed, self.rank, self.world_size, self.train_state = seed, rank, world_size, train_state

    def state_dict(self) -> dict[str, Any]:
        state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, ranks: list[dict[str, Any]] | None) -> None:
        if not ranks or len(ranks) != self.world_size:
            seed_everything(self.seed + 1_000_003 * self.train_state.step + self.rank)
            return
        state = ranks[self.rank]
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
