"""Configs for the data_prep tests, composed from conf/ exactly as ``python -m data_prep`` composes them
(every default lives in conf/; the dataclasses only declare types)."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from data_prep.api import compose_prep
from data_prep.config import PipelineConfig, PrepConfig, SourceConfig


@functools.cache
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    return compose_prep(["out_dir=unused", *overrides])[1]


def prep_config(*overrides: str) -> PrepConfig:
    """A fresh PrepConfig for these overrides (out_dir=unused unless given)."""
    return OmegaConf.to_object(_composed(overrides))  # type: ignore[return-value]


def pipeline_config(name: str = "web") -> PipelineConfig:
    return prep_config(f"pipeline={name}").pipeline


def stage_config(section: str, **changes: Any) -> Any:
    """``pipeline.<section>`` with its defaults from conf/, then ``changes``."""
    return replace(getattr(prep_config().pipeline, section), **changes)


def source_config(**changes: Any) -> SourceConfig:
    """``source.*`` with its defaults from conf/, then ``changes``."""
    return replace(prep_config().source, **changes)
