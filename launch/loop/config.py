"""``loop.*`` of ``python -m launch job=loop``: types and validation only (defaults: conf/loop/default.yaml)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from omegaconf import MISSING

from launch.loop.mix import POLICIES
from launch.loop.stopping import StopRule
from openpretrain.errors import UserError, require
from openpretrain.manifest import MANIFEST_NAME
from train.loop_eval_settings import LoopEvalSettings, validate_settings

TRAIN_MODES = ("continue", "scratch")


@dataclass
class LoopMemorizationSettings:
    num_sequences: int = MISSING
    prefix_tokens: int = MISSING
    suffix_tokens: int = MISSING


@dataclass
class LoopWandbSettings:
    mode: str = MISSING  # online | offline | disabled
    project: str | None = MISSING


@dataclass
class LoopConfig:
    dir: str | None = MISSING  # everything of the loop lives here (rounds, run, loop.json, report)
    real_data: str | None = MISSING  # a prepared (data_prep) real dataset with train and val splits
    rounds: int = MISSING
    docs_per_round: int = MISSING
    steps_per_round: int = MISSING
    max_synthetic_share: float = MISSING
    train: str = MISSING  # continue | scratch
    synthetic: str = MISSING  # accumulate | replace
    seed: int = MISSING  # round R generates with source.seed = seed + R
    synthetic_overrides: list[str] = MISSING  # extra data_prep overrides for the synthetic step
    eval_text_files: list[str] = MISSING
    min_improvement: float = MISSING
    patience: int = MISSING
    min_distinct_ratio: float = MISSING
    eval: LoopEvalSettings = MISSING
    memorization: LoopMemorizationSettings = MISSING
    wandb: LoopWandbSettings = MISSING

    @property
    def stop_rule(self) -> StopRule:
        return StopRule(self.min_improvement, self.patience, self.min_distinct_ratio)


def validate(loop: LoopConfig, check_paths: bool = True) -> None:
    """One line per problem, naming the key; only for job=loop (the keys are unused otherwise)."""
    require(bool(loop.dir), "loop.dir", "must be set: the folder of the loop (rounds, run, loop.json)")
    require(bool(loop.real_data), "loop.real_data", "must be set: a data_prep output dir of real data")
    require(loop.rounds >= 1, "loop.rounds", f"must be >= 1, got {loop.rounds}")
    require(loop.docs_per_round >= 1, "loop.docs_per_round", f"must be >= 1, got {loop.docs_per_round}")
    require(loop.steps_per_round >= 1, "loop.steps_per_round", f"must be >= 1, got {loop.steps_per_round}")
    require(0 < loop.max_synthetic_share < 1, "loop.max_synthetic_share",
            f"must be in (0, 1), got {loop.max_synthetic_share}")
    require(loop.train in TRAIN_MODES, "loop.train", f"must be one of {', '.join(TRAIN_MODES)}, got {loop.train!r}")
    require(loop.synthetic in POLICIES, "loop.synthetic",
            f"must be one of {', '.join(POLICIES)}, got {loop.synthetic!r}")
    require(loop.wandb.mode in ("online", "offline", "disabled"), "loop.wandb.mode",
            f"must be online, offline or disabled, got {loop.wandb.mode!r}")
    loop.stop_rule.validate()
    validate_settings(loop.eval, "loop.eval.")
    for key in ("num_sequences", "prefix_tokens", "suffix_tokens"):
        value = getattr(loop.memorization, key)
        require(value >= 1, f"loop.memorization.{key}", f"must be >= 1, got {value}")
    if check_paths and not os.path.isfile(os.path.join(loop.real_data, MANIFEST_NAME)):
        raise UserError(f"loop.real_data={loop.real_data}: no {MANIFEST_NAME} there (prepare the real data with "
                        "python -m data_prep first)")
    for i, path in enumerate(loop.eval_text_files):
        require(not check_paths or os.path.isfile(path), f"loop.eval_text_files[{i}]", f"file not found: {path}")
