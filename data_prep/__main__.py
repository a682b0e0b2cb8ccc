"""``python -m data_prep out_dir=DIR [overrides]`` — Hydra entry point."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from data_prep.config import PrepConfig, register, validate
from openpretrain.cli import CONFIG_PATH, report_user_errors, to_object

register()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="prep")
@report_user_errors
def main(cfg: DictConfig) -> None:
    prep_cfg: PrepConfig = to_object(cfg)
    validate(prep_cfg)
    from data_prep.runner.phases import run_prep  # heavy imports only after the config is known to be valid

    run_prep(prep_cfg, cfg)


if __name__ == "__main__":
    main()
