"""Runs for the export / generate / evaluate tests, made with train's own code (Contract-4 checkpoints).

Two kinds, both real DeepSpeed checkpoints on CPU:
- ``trained_run``: ``python -m train`` for a few steps with ZeRO-3 (the format as train writes it);
- ``stage_runs``: one run per ZeRO stage 0-3 (fp32) plus bf16 runs of stages 0 and 2, made by one
  two-rank ``torchrun -m tests.train.interop_helpers`` through train's build_model / build_engine /
  checkpoint.save, with the engine's own gathered weights (in the training dtype) saved next to them as
  ``reference.safetensors`` so consolidation can be checked bit for bit.
Test modules import the fixtures from here (``from tests.train.interop_helpers import ...  # noqa: F401``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from pathlib import Path

import pytest

from tests.conftest import run_module

# Small model; pad_vocab_to=192 pads the 512-token vocabulary to 576 rows, so padding is exercised.
MODEL_OVERRIDES = ["model.dim=64", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2",
                   "model.ffn_dim=128", "model.max_seq_len=128", "model.pad_vocab_to=192"]
TRAIN_OVERRIDES = ["max_steps=2", "checkpoint_every=2", "eval_every=2", "eval_batches=1", "micro_batch_size=4",
                   "logger.mode=disabled", "data.num_workers=0", "optim.warmup_steps=1", *MODEL_OVERRIDES]
# name -> (ZeRO stage, precision); "zero1" also ties the embeddings (the tied export path).
RUNS = {"zero0": (0, "fp32"), "zero1": (1, "fp32"), "zero2": (2, "fp32"), "zero3": (3, "fp32"),
        "zero0_bf16": (0, "bf16"), "zero2_bf16": (2, "bf16")}
TIED = "zero1"
WORLD_SIZE = 2
PADDED_VOCAB = 576
FAILED = "FAILED.txt"


# Each test module that imports a fixture gets its own copy of it, session scope or not; this cache
# makes the runs once per session however many modules use them.
_MADE: dict[str, object] = {}


@pytest.fixture(scope="session")
def trained_run(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``python -m train`` run (ZeRO-3), plus a copy of its checkpoint without the marker (step_3)."""
    if "trained_run" not in _MADE:
        run_dir = tmp_path_factory.mktemp("interop") / "run_zero3"
        run_module("train", f"data.path={prepared_dir}", f"run_dir={run_dir}", "deepspeed=zero3", *TRAIN_OVERRIDES)
        make_incomplete_copy(run_dir, "step_2", "step_3")
        _MADE["trained_run"] = run_dir
    return _MADE["trained_run"]


@pytest.fixture(scope="session")
def stage_runs(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One run dir per entry of RUNS."""
    if "stage_runs" not in _MADE:
        root = tmp_path_factory.mktemp("stages")
        # Two ranks, so ZeRO 1-3 checkpoints hold two partitions that consolidation has to merge.
        run_module("torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD_SIZE}",
                   "-m", "tests.train.interop_helpers", str(prepared_dir), str(root))
        _MADE["stage_runs"] = {name: root / name for name in RUNS}
    return _MADE["stage_runs"]


def stage_run(stage_runs: dict[str, Path], name: str) -> Path:
    """One run of RUNS; fails the calling test with the traceback if making it failed."""
    run = stage_runs[name]
    if (run / FAILED).exists():
        pytest.fail(f"making the {name} run with train's engine failed:\n{(run / FAILED).read_text()}")
    return run


def make_incomplete_copy(run_dir: Path, tag: str, new_tag: str) -> Path:
    """A later checkpoint whose save was interrupted: the files are there, the marker is not."""
    src = run_dir / "checkpoints" / tag
    dst = run_dir / "checkpoints" / new_tag
    shutil.copytree(src, dst)
    (dst / "COMPLETE").unlink()
    return dst


def _compose(data_dir: str, run_dir: str, name: str):
    from hydra import compose, initialize_config_dir

    from openpretrain.cli import CONFIG_PATH
    from train.config import register

    register()
    stage, precision = RUNS[name]
    overrides = [f"data.path={data_dir}", f"run_dir={run_dir}", f"deepspeed=zero{stage}",
                 f"deepspeed.precision={precision}", *TRAIN_OVERRIDES,
                 # A large init spreads the logits, so greedy parity is not decided by float noise.
                 "model.init_std=0.3", f"model.tie_embeddings={str(name == TIED).lower()}"]
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def _gathered_state(engine) -> dict:
    """The engine's full weights in the training dtype (ZeRO-3 gathers its partitions)."""
    import deepspeed

    params = list(engine.module.parameters())
    with deepspeed.zero.GatheredParameters(params, enabled=engine.zero_optimization_stage() == 3):
        return {k: v.detach().clone() for k, v in engine.module.state_dict().items()}


def make_stage_run(data_dir: str, run_dir: str, name: str, env) -> None:
    """Two optimizer steps on real batches, then a checkpoint saved exactly as the training loop saves it."""
    from omegaconf import OmegaConf
    from safetensors.torch import save_file

    from openpretrain.cli import to_object
    from train.checkpoint.manager import CheckpointManager
    from train.data import build_train_data, data_info
    from train.engine import build_engine
    from train.model_setup import build_model, checked_model_args
    from train.run_dir import prepare_run_dir
    from train.state import RngState, TrainState, seed_everything

    raw = _compose(data_dir, run_dir, name)
    cfg = to_object(raw)
    seed_everything(cfg.seed)
    info = data_info(cfg)
    args = checked_model_args(cfg.model, info.vocab_size, info.seq_len)
    engine = build_engine(build_model(args, cfg.perf), cfg, env)
    state = TrainState(wandb_run_id="test")
    config = OmegaConf.to_container(raw, resolve=True, enum_to_str=True)
    if env.is_main:
        prepare_run_dir(run_dir, config, info)
    manager = CheckpointManager(cfg, env, run_dir)
    manager.engine = engine
    with build_train_data(cfg, env.rank, env.world_size) as data:
        for _ in range(2):
            batch = next(data)
            engine.backward(engine(batch.inputs, targets=batch.targets))
            engine.step()
            state.step += 1
        # Saved exactly as the training loop saves: the same parts, through the same manager.
        manager.register("train", state)
        manager.register("data", data)
        manager.register("rng", RngState(cfg.seed, env.rank, env.world_size, state))
        manager.save(state.step, args, config)
    reference = _gathered_state(engine)  # every rank takes part in ZeRO-3's gather
    if cfg.model.tie_embeddings:
        reference.pop("lm_head.weight")
    if env.is_main:
        save_file({k: v.contiguous() for k, v in reference.items()}, os.path.join(run_dir, "reference.safetensors"))


def main(data_dir: str, out_root: str) -> None:
    from train.engine import init_distributed, shutdown_distributed

    env = init_distributed()
    for name in RUNS:
        run_dir = os.path.join(out_root, name)
        try:
            make_stage_run(data_dir, run_dir, name, env)
        except Exception:  # noqa: BLE001 - one broken stage must not hide the others; its test reports it
            os.makedirs(run_dir, exist_ok=True)
            Path(run_dir, FAILED).write_text(traceback.format_exc())
    if env.is_main:
        print(json.dumps({"runs": list(RUNS), "world_size": env.world_size}), flush=True)
    shutdown_distributed()


if __name__ == "__main__":
    main(*sys.argv[1:3])
