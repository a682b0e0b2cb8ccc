"""``python -m data_prep out_dir=DIR [overrides]`` — Hydra entry point."""

from __future__ import annotations

from omegaconf import DictConfig

from data_prep.config import PrepConfig, register, validate
from openpretrain.cli import hydra_entry, to_object

register()


@hydra_entry("prep")
def main(cfg: DictConfig) -> None:
    prep_cfg: PrepConfig = to_object(cfg)
    validate(prep_cfg)
    from data_prep.runner.phases import run_prep  # heavy imports only after the config is known to be valid

    run_prep(prep_cfg, cfg)


if __name__ == "__main__":
    main()
