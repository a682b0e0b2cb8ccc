"""Structured config of the ``objective`` group (conf/objective/{clm,fim,mlm}.yaml hold every default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from omegaconf import MISSING

from openpretrain.errors import require


class ObjectiveName(str, Enum):
    clm = "clm"  # causal LM: next-token prediction on the packed rows as stored
    fim = "fim"  # fill-in-the-middle: documents rearranged with sentinels, then next-token prediction
    mlm = "mlm"  # masked LM: bidirectional attention, 80/10/10 masking, loss on selected positions


@dataclass
class FimConfig:
    rate: float = MISSING  # share of document pieces rearranged
    spm_rate: float = MISSING  # share of the rearranged pieces in SPM (else PSM) order


@dataclass
class MlmConfig:
    probability: float = MISSING  # share of ordinary tokens selected for prediction
    mask_rate: float = MISSING  # of the selected: replaced by the mask token
    random_rate: float = MISSING  # of the selected: replaced by a random token (the rest stay unchanged)


@dataclass
class ObjectiveConfig:
    name: ObjectiveName = MISSING
    fim: FimConfig = field(default_factory=FimConfig)
    mlm: MlmConfig = field(default_factory=MlmConfig)


def _share(value: float, key: str) -> None:
    require(0.0 <= value <= 1.0, key, f"must be in [0, 1], got {value}")


def validate_objective(cfg: ObjectiveConfig) -> None:
    _share(cfg.fim.rate, "objective.fim.rate")
    _share(cfg.fim.spm_rate, "objective.fim.spm_rate")
    require(0.0 < cfg.mlm.probability < 1.0, "objective.mlm.probability",
            f"must be in (0, 1), got {cfg.mlm.probability}")
    _share(cfg.mlm.mask_rate, "objective.mlm.mask_rate")
    _share(cfg.mlm.random_rate, "objective.mlm.random_rate")
    require(cfg.mlm.mask_rate + cfg.mlm.random_rate <= 1.0, "objective.mlm.random_rate",
            f"mask_rate + random_rate must be <= 1, got {cfg.mlm.mask_rate} + {cfg.mlm.random_rate}")
