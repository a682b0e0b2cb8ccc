"""The one owner of ``run_dir/checkpoints``: save, keep-last-K, verify, fall back, roll back, universal.

Every part of training that has state registers here as a ``Stateful`` (``state_dict()`` /
``load_state_dict()``): the loop's counters and W&B id (``train``), the data position (``data``), every
rank's RNG streams (``rng``, per rank). The DeepSpeed engine (model, ZeRO optimizer partitions, LR
schedule) writes its own tensor files; the manager decides where and when. Nothing else in training
reads or writes checkpoint files.

Client state of one checkpoint (Contract 4): ``step``, ``world_size``, ``skipped_steps``, ``model_args``,
the resolved ``config`` and one entry per registered part. Its JSON part is also written to
``client_state.json``; RNG states live only in DeepSpeed's files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Protocol

import torch.distributed as dist

from openpretrain.errors import UserError
from train.checkpoint import store
from train.checkpoint.universal import ensure_universal, universal_info
from train.config import TrainConfig
from train.engine import DistEnv, load_checkpoint
from train.model import ModelArgs

log = logging.getLogger(__name__)


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Any) -> None: ...


@dataclass(frozen=True)
class ResumePlan:
    ref: store.CheckpointRef
    tag: str  # the checkpoint's own tag, or "universal" when the world size or ZeRO stage changed
    universal: bool

    @property
    def load_dir(self) -> str:
        """DeepSpeed loads ``load_dir/tag``: checkpoints/step_N, or checkpoints/step_N/universal."""
        return self.ref.path if self.universal else self.ref.root


class CheckpointManager:
    def __init__(self, cfg: TrainConfig, env: DistEnv, run_dir: str) -> None:
        self.cfg, self.env, self.run_dir = cfg, env, run_dir
        self.parts: dict[str, Stateful] = {}
        self.engine: Any = None
        self.saved_step = -1
        self._trusted: set[str] = set()  # checkpoints this process saved or verified

    def register(self, name: str, part: Stateful) -> None:
        """A part saved under ``name``; a part with ``per_rank = True`` is gathered from every rank."""
        self.parts[name] = part

    def remove_interrupted_saves(self) -> None:
        if self.env.is_main:
            for path in store.remove_incomplete(self.run_dir):
                log.warning("removed interrupted checkpoint save %s", path)
        dist.barrier()

    # -- choosing what to resume from -------------------------------------------------------------------
    def plan_resume(self, model_args: ModelArgs) -> ResumePlan | None:
        """Newest complete checkpoint that verifies, checked against this run's model and ZeRO stage."""
        refs = store.complete_checkpoints(self.run_dir)
        if not refs:
            return None
        if not self.cfg.auto_resume:
            raise UserError(f"{refs[-1].path} exists and auto_resume=false: use a new run_dir, or auto_resume=true "
                            "to continue")
        ref = self._newest_verified(refs)
        self._check_model(ref, model_args)
        stage = self.cfg.deepspeed.zero_stage
        if ref.zero_stage != stage and 0 in (ref.zero_stage, stage):
            raise UserError(f"{ref.path} was saved with ZeRO stage {ref.zero_stage}; resuming with stage {stage} is "
                            f"not supported (use deepspeed=zero{ref.zero_stage}, or a ZeRO 1-3 stage on both sides)")
        return self._plan(ref)

    def _newest_verified(self, refs: list[store.CheckpointRef]) -> store.CheckpointRef:
        """Rank 0 checks sizes + sha256, newest first; every rank then takes its choice."""
        choice: list[Any] = [None]
        if self.env.is_main:
            choice[0] = self._first_good(refs)
        dist.broadcast_object_list(choice, src=0)
        if isinstance(choice[0], str):
            raise UserError(choice[0])
        ref = next(r for r in refs if r.step == choice[0])
        self._trusted.add(ref.path)
        return ref

    def _first_good(self, refs: list[store.CheckpointRef]) -> int | str:
        """The step of the newest checkpoint that verifies, or the one-line error when none does."""
        damaged = []
        for ref in reversed(refs):
            problem = store.verify(ref)
            if problem is None:
                return ref.step
            log.warning("checkpoint %s is damaged (%s); trying the one before", ref.path, problem)
            damaged.append(f"{ref.tag}: {problem}")
        return (f"no checkpoint in {store.checkpoints_dir(self.run_dir)} verifies ({'; '.join(damaged)}): "
                "restore the files, or start over in a new run_dir")

    def _check_model(self, ref: store.CheckpointRef, model_args: ModelArgs) -> None:
        """A run_dir holds one model: another model config is refused in one line, before DeepSpeed loads."""
        saved = store.read_client_state(ref)
        held = saved.get("model_args")
        if not isinstance(held, dict):
            return
        wanted = dataclasses.asdict(model_args)
        # A field added to ModelArgs after the checkpoint was saved holds its default there.
        held = {**{f.name: f.default for f in dataclasses.fields(ModelArgs)}, **held}
        diffs = [f"{k}={held.get(k)} (this config: {v})" for k, v in wanted.items() if held.get(k) != v]
        if not diffs:
            return
        config = saved.get("config") or {}
        name = config.get("model", {}).get("name")
        hint = f"model={name}" if name else "the model config it was trained with"
        if held["causal"] != wanted["causal"]:
            hint = f"objective={(config.get('objective') or {}).get('name', 'clm')}"
        raise UserError(f"{self.run_dir} holds a checkpoint ({ref.tag}) of another model: {', '.join(diffs)}; "
                        f"use a new run_dir for this model, or {hint} to continue that run")

    def _plan(self, ref: store.CheckpointRef) -> ResumePlan:
        """The one place that decides the universal path (and converts, on rank 0, once)."""
        stage = self.cfg.deepspeed.zero_stage
        # ZeRO-0 replicates everything, so any world size loads it directly.
        universal = stage > 0 and (ref.world_size != self.env.world_size or ref.zero_stage != stage)
        if not universal:
            return ResumePlan(ref, ref.tag, False)
        if self.env.is_main:
            ensure_universal(ref, workers=max(1, min(4, os.cpu_count() or 1)))
        dist.barrier()
        return ResumePlan(ref, store.UNIVERSAL_TAG, True)

    # -- loading ----------------------------------------------------------------------------------------
    def load(self, plan: ResumePlan, skip: tuple[str, ...] = ()) -> None:
        """Engine state, then every registered part but ``skip``, from one checkpoint."""
        path, client = load_checkpoint(self.engine, plan.load_dir, plan.tag)
        if path is None:
            raise RuntimeError(f"DeepSpeed could not load {plan.load_dir}/{plan.tag}")
        for name, part in self.parts.items():
            if name not in skip:
                part.load_state_dict(client.get(name))

    def rollback(self) -> store.CheckpointRef | None:
        """Back to the newest complete checkpoint (model, optimizer, counters); data, RNG and the spike
        detector's loss history go on as they are (the losses before the spike were judged normal)."""
        refs = store.complete_checkpoints(self.run_dir)
        if not refs:
            return None
        ref = refs[-1] if refs[-1].path in self._trusted else self._newest_verified(refs)
        self.load(self._plan(ref), skip=("data", "rng", "stability"))
        return ref

    # -- saving -----------------------------------------------------------------------------------------
    def save(self, step: int, model_args: ModelArgs, config: dict[str, Any]) -> str | None:
        """Save on every rank; rank 0 then records digests, writes the marker, moves ``latest`` and prunes."""
        if self.saved_step == step:
            return None
        json_state: dict[str, Any] = {
            "step": step, "world_size": self.env.world_size, "skipped_steps": self.engine.skipped_steps,
            "model_args": dataclasses.asdict(model_args), "config": config,
        }
        full = {**json_state, **universal_info()}
        for name, part in self.parts.items():
            if getattr(part, "per_rank", False):
                full[name] = self._gather(part.state_dict())
            else:
                json_state[name] = full[name] = part.state_dict()
        path = self._write(step, full, json_state)
        self.saved_step = step
        self._trusted.add(path)
        log.info("saved checkpoint %s", path)
        return path

    def _gather(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        states: list[Any] = [None] * self.env.world_size
        dist.all_gather_object(states, state)
        return states

    def _write(self, step: int, full: dict[str, Any], json_state: dict[str, Any]) -> str:
        root, tag = store.checkpoints_dir(self.run_dir), store.tag_for(step)
        path = os.path.join(root, tag)
        if self.env.is_main and os.path.isdir(path):
            shutil.rmtree(path)  # leftovers of an interrupted save of the same step (files of another world size)
        dist.barrier()
        self.engine.save_checkpoint(root, tag=tag, client_state=full, save_latest=False)  # ends in a barrier
        if self.env.is_main:
            store.write_atomic(os.path.join(path, store.CLIENT_STATE_JSON), json.dumps(json_state, indent=1))
            store.write_digests(path)
            marker = {"step": step, "world_size": self.env.world_size,
                      "zero_stage": self.engine.zero_optimization_stage(), "time": time.time()}
            store.write_atomic(os.path.join(path, store.MARKER), json.dumps(marker))
            store.write_atomic(os.path.join(root, store.LATEST), tag)
            for old in store.prune(self.run_dir, self.cfg.keep_checkpoints):
                log.info("removed old checkpoint %s", old)
        dist.barrier()
        return path
