"""Configs for tests, composed from conf/ exactly as the CLIs compose them (the dataclasses hold no defaults)."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

from hydra import compose, initialize_config_dir

from openpretrain.cli import CONFIG_PATH, to_object


def _register() -> None:
    from train import evaluate, export, generate
    from train.config import register

    register()
    export.register()
    generate.register()
    evaluate.register()


def composed(config_name: str, *overrides: str) -> Any:
    """``conf/<config_name>.yaml`` with Hydra overrides, as the typed dataclass (a fresh copy each call)."""
    return copy.deepcopy(_composed(config_name, overrides))


@functools.lru_cache(maxsize=64)
def _composed(config_name: str, overrides: tuple[str, ...]) -> Any:
    _register()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return to_object(compose(config_name, overrides=list(overrides)))


def train_config(*overrides: str, **fields: Any) -> Any:
    """A TrainConfig from conf/train.yaml (run_dir and data.path filled in), top-level fields replaced."""
    cfg = composed("train", "run_dir=run", "data.path=data", *overrides)
    return dataclasses.replace(cfg, **fields)


def section(key: str, /, **fields: Any) -> Any:
    """One section of the shipped train config (``optim``, ``perf``, ``stability``, ``logger``, ...)."""
    return dataclasses.replace(getattr(train_config(), key), **fields)


def tool_config(config_name: str, **fields: Any) -> Any:
    """ExportConfig / GenerateConfig / EvaluateConfig with the required keys given as fields."""
    required = {k: v for k, v in fields.items() if k in ("checkpoint", "out")}
    cfg = composed(config_name, *(f"{k}={v}" for k, v in required.items()))
    return dataclasses.replace(cfg, **fields)


def eval_data(**fields: Any) -> Any:
    """The ``data`` section of conf/evaluate.yaml with fields replaced."""
    return dataclasses.replace(composed("evaluate", "checkpoint=run").data, **fields)
