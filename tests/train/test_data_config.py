"""data.* keys through Hydra: a mix from the command line, and bad values named in one line."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.errors import ConfigError
from train.config import OnCorrupt, register, validate

register()


def load(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = to_object(compose("train", overrides=["run_dir=/tmp/run", *overrides]))
    validate(cfg)
    return cfg


def test_a_weighted_mix_from_the_command_line():
    cfg = load("data.mix=[{path: /a, weight: 0.7}, {path: /b, weight: 0.3, name: web}]", "data.on_corrupt=skip")
    assert [(m.path, m.weight, m.name) for m in cfg.data.mix] == [("/a", 0.7, None), ("/b", 0.3, "web")]
    assert cfg.data.on_corrupt == OnCorrupt.skip and cfg.data.path is None


@pytest.mark.parametrize(("overrides", "key"), [
    ((), "data.path"),
    (("data.path=/a", "data.mix=[{path: /b}]"), "data.mix"),
    (("data.mix=[{path: /a, weight: 0}]",), "data.mix[0].weight"),
    (("data.path=/a", "data.prefetch=0"), "data.prefetch"),
    (("data.path=/a", "data.shuffle_block_shards=0"), "data.shuffle_block_shards"),
])
def test_bad_data_settings_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        load(*overrides)
    assert err.value.key == key
