"""One place for every default: conf/ holds the values, the structured configs only types and validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from omegaconf import MISSING, OmegaConf

from openpretrain.cli import CONFIG_PATH
from tests.train.configs import composed
from train import config as train_config
from train.evaluate import EvalDataConfig, EvaluateConfig
from train.export import ExportConfig
from train.generate import GenerateConfig
from train.objectives import config as objective_config

CONF = Path(CONFIG_PATH)
# Not listed: MixEntry, the element of a user-written list (data.mix=[{path: ..., weight: ...}]), whose
# defaults (weight 1, name = the directory's) no yaml can hold.
SCHEMAS = [train_config.ModelConfig, train_config.DeepSpeedConfig, train_config.DataConfig, train_config.OptimConfig,
           train_config.LoggerConfig, train_config.GenerationsConfig, train_config.PerfConfig,
           train_config.StabilityConfig, train_config.TrainConfig,
           ExportConfig, GenerateConfig, EvaluateConfig, EvalDataConfig, objective_config.ObjectiveConfig,
           objective_config.FimConfig, objective_config.MlmConfig]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_structured_configs_hold_no_value_defaults(schema: type) -> None:
    for f in dataclasses.fields(schema):
        if f.default_factory is not dataclasses.MISSING:  # a nested section: structure, not a value
            assert dataclasses.is_dataclass(f.default_factory()), f"{schema.__name__}.{f.name}: a default in code"
        else:
            assert f.default is MISSING, f"{schema.__name__}.{f.name} = {f.default!r}: defaults belong in conf/"


def _group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _assert_complete(cfg: object, where: str) -> None:
    node = OmegaConf.structured(cfg)
    missing = sorted(OmegaConf.missing_keys(node))
    assert not missing, f"{where}: no value for {missing}"


@pytest.mark.parametrize("group", ["model", "deepspeed", "data", "optim", "logger", "experiment", "objective"])
def test_every_shipped_preset_composes_with_no_missing_value(group: str) -> None:
    options = _group_options(group)
    assert options
    for option in options:
        key = f"+experiment={option}" if group == "experiment" else f"{group}={option}"
        cfg = composed("train", "run_dir=r", "data.path=d", key)
        _assert_complete(cfg, f"{group}={option}")


@pytest.mark.parametrize(("name", "required"), [("export", ["checkpoint=c", "out=o"]),
                                                 ("generate", ["checkpoint=c"]), ("evaluate", ["checkpoint=c"])])
def test_tool_configs_compose_with_no_missing_value(name: str, required: list[str]) -> None:
    _assert_complete(composed(name, *required), name)


def test_deepspeed_bucket_sizes_come_from_conf() -> None:
    from train.engine import deepspeed_config

    cfg = composed("train", "run_dir=r", "data.path=d", "deepspeed=zero3", "deepspeed.reduce_bucket_size=1234")
    zero = deepspeed_config(cfg, dp_size=1, device_type="cpu")["zero_optimization"]
    assert zero["reduce_bucket_size"] == 1234 and zero["stage3_prefetch_bucket_size"] == 50_000_000
