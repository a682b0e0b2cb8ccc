"""``torchrun --nproc-per-node=N -m train data.path=DIR run_dir=DIR [overrides]`` — Hydra entry point."""

from __future__ import annotations

from omegaconf import DictConfig

from openpretrain.cli import hydra_entry, to_object
from train.config import TrainConfig, register, validate

register()


@hydra_entry("train")
def main(cfg: DictConfig) -> None:
    train_cfg: TrainConfig = to_object(cfg)
    validate(train_cfg)
    from train.loop import run_training  # heavy imports (torch, deepspeed) only after validation

    run_training(train_cfg, cfg)


if __name__ == "__main__":
    main()
