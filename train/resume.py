"""What a checkpoint must carry beyond DeepSpeed's tensors, and how a restart picks it up.

Client state (Contract 4): step, tokens seen, data position, W&B run id, resolved config, model args and
every rank's RNG states. A restart on another world size goes through DeepSpeed's universal checkpoint.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from openpretrain.errors import UserError
from train import checkpoint as ckpt
from train.config import TrainConfig
from train.engine import DistEnv

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """The loop's own counters; DeepSpeed keeps the model, optimizer, schedule and skipped-step count."""

    step: int = 0
    tokens_seen: int = 0
    wandb_run_id: str = ""
    rollbacks: int = 0


@dataclass(frozen=True)
class ResumePlan:
    ref: ckpt.CheckpointRef
    tag: str  # the checkpoint's own tag, or "universal" when the world size changed
    universal: bool

    @property
    def load_dir(self) -> str:
        """DeepSpeed loads ``load_dir/tag``: checkpoints/step_N, or checkpoints/step_N/universal."""
        return self.ref.path if self.universal else self.ref.root


def plan_resume(cfg: TrainConfig, env: DistEnv, run_dir: str) -> ResumePlan | None:
    """Newest complete checkpoint and whether it needs the universal path; converts it (rank 0) if so."""
    ref = ckpt.latest_complete(run_dir)
    if ref is None:
        return None
    if not cfg.auto_resume:
        raise UserError(f"{ref.path} exists and auto_resume=false: use a new run_dir, or auto_resume=true to continue")
    stage = cfg.deepspeed.zero_stage
    if ref.zero_stage != stage and 0 in (ref.zero_stage, stage):
        raise UserError(f"{ref.path} was saved with ZeRO stage {ref.zero_stage}; resuming with stage {stage} is not "
                        f"supported (use deepspeed=zero{ref.zero_stage}, or a ZeRO 1-3 stage on both sides)")
    # ZeRO-0 replicates everything, so any world size loads it directly.
    universal = stage > 0 and (ref.world_size != env.world_size or ref.zero_stage != stage)
    if not universal:
        return ResumePlan(ref, ref.tag, False)
    if env.is_main:
        ckpt.ensure_universal(ref, workers=max(1, min(4, os.cpu_count() or 1)))
    dist.barrier()
    return ResumePlan(ref, ckpt.UNIVERSAL_TAG, True)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def gather_rng_states(env: DistEnv) -> list[dict[str, Any]]:
    states: list[Any] = [None] * env.world_size
    dist.all_gather_object(states, rng_state())
    return states


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def restore_rng(states: list[dict[str, Any]] | None, env: DistEnv, seed: int, step: int) -> None:
    """Each rank takes back its own RNG streams; on another world size they are re-derived from the seed."""
    if not states or len(states) != env.world_size:
        seed_everything(seed + 1_000_003 * step + env.rank)
        return
    state = states[env.rank]
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def client_states(
    state: TrainState, data_state: dict[str, Any], config: dict[str, Any], model_args: dict[str, Any],
    env: DistEnv, skipped_steps: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(everything for DeepSpeed's files, its JSON part for client_state.json)."""
    json_state = {
        "step": state.step,
        "tokens_seen": state.tokens_seen,
        "data": data_state,
        "wandb_run_id": state.wandb_run_id,
        "rollbacks": state.rollbacks,
        "skipped_steps": skipped_steps,
        "world_size": env.world_size,
        "model_args": model_args,
        "config": config,
    }
    full = {**json_state, "rng": gather_rng_states(env), **ckpt.universal_info()}
    return full, json_state


def apply_client_state(client: dict[str, Any], state: TrainState) -> None:
    state.step = int(client["step"])
    state.tokens_seen = int(client["tokens_seen"])
    state.wandb_run_id = client.get("wandb_run_id") or state.wandb_run_id
    state.rollbacks = int(client.get("rollbacks", 0))
