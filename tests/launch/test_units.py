"""Launch building blocks in-process: job-override transport, sweeps, config checks, Slurm time limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from launch.config import LaunchConfig, register, slurm_time_seconds, validate
from launch.overrides import expand, launch_override, set_value, split_argv
from openpretrain.cli import CONFIG_PATH
from openpretrain.errors import ConfigError, UserError

register()

TRICKY = [
    "data.path=/data/my corpus",  # a space
    'logger.name="it\'s quoted"',  # Hydra quoting, kept as typed
    "run_dir=runs/${logger.name}",  # an interpolation meant for train
    r"logger.name=back\slash",
    "logger.name=end\\",  # a trailing backslash
    "logger.tags=[a,'b c']",
    "+extra={k: v, n: [1, 2]}",
    "~logger.entity",
    "model=llama_1b",
]


def _launch_cfg(*overrides: str) -> LaunchConfig:
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return OmegaConf.to_object(compose(config_name="launch", overrides=list(overrides)))


def test_split_argv_at_the_first_separator() -> None:
    assert split_argv(["cluster=slurm", "--", "a=1", "--", "b"]) == (["cluster=slurm"], ["a=1", "--", "b"])
    assert split_argv(["cluster=slurm"]) == (["cluster=slurm"], None)


def test_job_overrides_reach_the_launch_config_unchanged() -> None:
    cfg = _launch_cfg(launch_override([TRICKY]))
    assert cfg.overrides == TRICKY


def test_sweep_jobs_receive_their_combination_unchanged() -> None:
    """What Hydra's sweeper hands each job is exactly one expanded combination."""
    combos = expand(["seed=1,2", "run_dir=runs/${seed}", "logger.name=x,'c,d'"], multirun=True)
    assert combos == [["seed=1", "run_dir=runs/${seed}", "logger.name=x"],
                      ["seed=1", "run_dir=runs/${seed}", "logger.name='c,d'"],
                      ["seed=2", "run_dir=runs/${seed}", "logger.name=x"],
                      ["seed=2", "run_dir=runs/${seed}", "logger.name='c,d'"]]
    parsed = OverridesParser.create().parse_overrides([launch_override(combos)])
    [jobs] = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    assert [_launch_cfg(*job).overrides for job in jobs] == combos


def test_range_sweeps_expand_and_intervals_are_refused() -> None:
    assert expand(["seed=range(3)"], multirun=True) == [["seed=0"], ["seed=1"], ["seed=2"]]
    with pytest.raises(UserError, match="only value lists"):
        expand(["optim.lr=interval(0.1,0.2)"], multirun=True)
    with pytest.raises(UserError, match="cannot parse"):
        expand(["optim.lr=[1,"], multirun=False)


def test_set_value_replaces_the_key_and_quotes_only_when_needed() -> None:
    assert set_value(["run_dir=a", "seed=1"], "run_dir", "a/0") == ["seed=1", "run_dir=a/0"]
    assert set_value(["seed=1"], "run_dir", "a,b/0") == ["seed=1", "run_dir='a,b/0'"]
    assert set_value([], "run_dir", "x/${y}") == ["run_dir='x/\\${y}'"]  # a literal path, not an interpolation


@pytest.mark.parametrize("text, seconds", [
    ("30", 1800), ("90:00", 5400), ("01:00:00", 3600), ("2-00", 172800), ("1-02:03", 93780),
    ("1-00:00:01", 86401), ("soon", None), ("1:2:3:4", None),
])
def test_slurm_time_limits(text: str, seconds: int | None) -> None:
    assert slurm_time_seconds(text) == seconds


@pytest.mark.parametrize("overrides, key", [
    (["launch.nnodes=2"], "launch.rdzv_endpoint"),
    (["launch.nnodes=2", "launch.node_rank=2", "launch.rdzv_endpoint=h:1"], "launch.node_rank"),
    (["launch.rdzv_endpoint=no-port"], "launch.rdzv_endpoint"),
    (["launch.nproc_per_node=0"], "launch.nproc_per_node"),
    (["launch.tee=4"], "launch.tee"),
    (["cluster.nodes=2"], "cluster.nodes"),  # local: nodes come from launch.nnodes
    (["cluster=slurm", "launch.rdzv_endpoint=h:1"], "launch.rdzv_endpoint"),
    (["cluster=slurm", "launch.node_rank=1", "launch.nnodes=1"], "launch.node_rank"),
    (["cluster=slurm", "cluster.mail_type=[END,SOMETIMES]"], "cluster.mail_type"),
    (["cluster=slurm", "cluster.cpus_per_task=0"], "cluster.cpus_per_task"),
    (["cluster=slurm", "cluster.signal_seconds=0"], "cluster.signal_seconds"),
    (["cluster=slurm", "launch.slurm_env=true", "launch.rdzv_endpoint=h:1"], "launch.rdzv_endpoint"),
])
def test_invalid_launch_configs_name_the_key(overrides: list[str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(_launch_cfg(*overrides))
    assert info.value.key == key


def test_defaults_are_valid_for_both_clusters_and_the_example_site() -> None:
    validate(_launch_cfg())
    validate(_launch_cfg("cluster=slurm"))
    site = _launch_cfg("cluster=example_site", "cluster.partition=gpu")
    validate(site)
    assert site.cluster.require_partition and site.cluster.kind.value == "slurm"


def test_launch_dataclasses_hold_no_defaults() -> None:
    """conf/launch.yaml and conf/cluster/ are the one place for launch defaults; the code declares types."""
    from dataclasses import MISSING as NO_DEFAULT
    from dataclasses import fields

    from launch.config import ClusterConfig, PrepLaunchConfig, TorchrunConfig

    for schema in (LaunchConfig, TorchrunConfig, ClusterConfig, PrepLaunchConfig):
        for field in fields(schema):
            assert field.default_factory is NO_DEFAULT, f"{schema.__name__}.{field.name} has a default factory"
            assert field.default == "???", f"{schema.__name__}.{field.name} has a default in code: {field.default!r}"


@pytest.mark.parametrize("cluster", sorted(p.stem for p in (Path(CONFIG_PATH) / "cluster").glob("*.yaml")))
@pytest.mark.parametrize("job", ["train", "prep"])
def test_shipped_presets_compose_with_no_missing_value(cluster: str, job: str) -> None:
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg = compose(config_name="launch", overrides=[f"cluster={cluster}", f"job={job}"])
    assert OmegaConf.missing_keys(cfg) == set()
    assert OmegaConf.to_object(cfg).cluster.name == cluster


def test_torchrun_and_node_python_default_to_this_interpreter() -> None:
    import sys

    from launch.slurm import node_python
    from launch.torchrun import torchrun_argv

    cfg = _launch_cfg("cluster=slurm")
    assert torchrun_argv(cfg) == [sys.executable, "-m", "torch.distributed.run"]
    assert node_python(cfg) == sys.executable
    chosen = _launch_cfg("cluster=slurm", "launch.torchrun=/opt/bin/torchrun", "cluster.python=python3")
    assert torchrun_argv(chosen, node_python(chosen)) == ["/opt/bin/torchrun"] and node_python(chosen) == "python3"
