"""The objective config group: presets compose, bad values are refused naming the key."""

from __future__ import annotations

import pytest

from openpretrain.errors import ConfigError
from tests.train.configs import train_config
from train.config import validate
from train.objectives.config import ObjectiveName


def test_presets_select_the_objective_and_keep_every_key():
    for name in ("clm", "fim", "mlm"):
        cfg = train_config(f"objective={name}")
        assert cfg.objective.name == ObjectiveName(name)
        assert (cfg.objective.fim.rate, cfg.objective.fim.spm_rate) == (0.5, 0.5)
        assert (cfg.objective.mlm.probability, cfg.objective.mlm.mask_rate, cfg.objective.mlm.random_rate) == (
            0.15, 0.8, 0.1)
    assert train_config().objective.name == ObjectiveName.clm
    assert train_config("objective=fim", "objective.fim.rate=0.9").objective.fim.rate == 0.9


@pytest.mark.parametrize(("override", "key"), [
    ("objective.fim.rate=1.5", "objective.fim.rate"),
    ("objective.fim.spm_rate=-0.1", "objective.fim.spm_rate"),
    ("objective.mlm.probability=0", "objective.mlm.probability"),
    ("objective.mlm.random_rate=0.3", "objective.mlm.random_rate"),  # 0.8 + 0.3 > 1
])
def test_bad_values_name_the_key(override: str, key: str):
    with pytest.raises(ConfigError) as err:
        validate(train_config("objective=mlm", override))
    assert err.value.key == key and "\n" not in str(err.value)
