"""The job being launched (train or data_prep), checked against its own config before anything runs.

Launch composes conf/train.yaml (or conf/prep.yaml) with the job overrides exactly as the job will, so a
misspelt key, a bad value or a missing ``run_dir`` fails here, before a node is allocated.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from launch.config import JobKind
from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.errors import UserError
from openpretrain.hydra_errors import hydra_error_line
from openpretrain.manifest import MANIFEST_NAME


@dataclass(frozen=True)
class JobSpec:
    module: str  # python -m <module>
    config_name: str  # its primary config in conf/
    output_key: str  # the key naming the job's output directory


JOBS = {
    JobKind.train: JobSpec(module="train", config_name="train", output_key="run_dir"),
    JobKind.prep: JobSpec(module="data_prep", config_name="prep", output_key="out_dir"),
}


@dataclass
class Target:
    kind: JobKind
    spec: JobSpec
    overrides: list[str]
    config: DictConfig  # the job's composed config (without its hydra node)
    workdir: str

    @property
    def output_dir(self) -> str:
        """The job's output directory (run_dir / out_dir), absolute."""
        return os.path.normpath(os.path.join(self.workdir, str(self.config[self.spec.output_key])))

    @property
    def launch_dir(self) -> str:
        """Where launch keeps the rendered scripts, resolved configs and Slurm logs of this job."""
        return os.path.join(self.output_dir, "launch")


@contextmanager
def _config_dir() -> Iterator[None]:
    """Hydra's compose API inside ``python -m launch`` (already initialised) or standalone."""
    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        yield


def _register_schemas(kind: JobKind) -> None:
    # Imported lazily: each package's config module is light, but only the one in use is needed.
    if kind == JobKind.train:
        from train.config import register
    else:
        from data_prep.config import register
    register()


def _validate(kind: JobKind, cfg: DictConfig) -> None:
    if kind == JobKind.train:
        from train.config import validate
    else:
        from data_prep.config import validate
    validate(to_object(cfg))


def compose_target(kind: JobKind, overrides: list[str], workdir: str, check_paths: bool) -> Target:
    """Compose and validate the job config; raise UserError naming the problem."""
    spec = JOBS[kind]
    _register_schemas(kind)
    try:
        with _config_dir():
            cfg = compose(config_name=spec.config_name, overrides=list(overrides))
        _validate(kind, cfg)
    except MissingMandatoryValue as exc:
        raise UserError(f"{spec.module}: '{exc.full_key}' must be set; add {exc.full_key}=... after --") from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(f"{spec.module}: {hydra_error_line(exc, list(overrides))}") from None
    except UserError as exc:
        raise UserError(f"{spec.module}: {exc}") from None
    target = Target(kind=kind, spec=spec, overrides=list(overrides), config=cfg, workdir=workdir)
    if check_paths and kind == JobKind.train:
        _check_data_path(target)
    return target


def _check_data_path(target: Target) -> None:
    data = target.config.data
    paths = {"data.path": data.path} if data.path else {}
    paths.update({f"data.mix[{i}].path": entry.path for i, entry in enumerate(data.mix)})
    for key, path in paths.items():
        if not os.path.isfile(os.path.join(target.workdir, str(path), MANIFEST_NAME)):
            raise UserError(f"{key}={path}: no {MANIFEST_NAME} there (run data_prep first, or check_paths=false "
                            "when the data appears before the job starts)")
