"""Run data_prep from Python with the same overrides as the command line (used by tests and notebooks)."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from data_prep.config import PrepConfig, register, validate
from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.manifest import Manifest


def compose_prep(overrides: list[str]) -> tuple[PrepConfig, DictConfig]:
    """The config ``python -m data_prep *overrides`` would run with (typed, and as composed), unvalidated."""
    register()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        raw = compose(config_name="prep", overrides=list(overrides))
    return to_object(raw), raw


def prepare(overrides: list[str]) -> Manifest | None:
    """``python -m data_prep *overrides`` in this process; the manifest once merged (None for one task)."""
    from data_prep.runner.phases import run_prep

    cfg, raw = compose_prep(list(overrides))
    validate(cfg)
    return run_prep(cfg, raw, argv=list(overrides))
