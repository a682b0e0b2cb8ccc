"""DeepSpeed config derivation, batch-size checks, LR schedule and the ZeRO-0 non-finite guard (no process group)."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir

from openpretrain.cli import CONFIG_PATH, to_object
from openpretrain.errors import ConfigError
from train.config import Precision, TrainConfig, register
from train.engine import (
    batch_sizes,
    build_lr_scheduler,
    deepspeed_config,
    guard_nonfinite_steps,
    lr_factor,
    resolve_precision,
)

register()


def _cfg(*overrides: str) -> TrainConfig:
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return to_object(compose("train", overrides=["data.path=/d", "run_dir=/r", *overrides]))


def test_batch_sizes_derived_and_checked() -> None:
    cfg = _cfg("micro_batch_size=4", "grad_accum_steps=3", "global_batch_size=24")
    assert batch_sizes(cfg, dp_size=2).global_ == 24
    with pytest.raises(ConfigError, match=r"global_batch_size.*24 != micro_batch_size 4 x grad_accum_steps 3 x 4"):
        batch_sizes(cfg, dp_size=4)
    cfg = _cfg("micro_batch_size=4", "global_batch_size=32")
    with pytest.raises(ConfigError, match="grad_accum_steps=4 would match"):
        batch_sizes(cfg, dp_size=2)


@pytest.mark.parametrize("group,stage", [("zero0", 0), ("zero1", 1), ("zero2", 2), ("zero3", 3)])
def test_deepspeed_config_from_hydra_groups(group: str, stage: int) -> None:
    cfg = _cfg(f"deepspeed={group}", "micro_batch_size=2", "grad_accum_steps=4", "optim.grad_clip=0.5")
    ds = deepspeed_config(cfg, dp_size=2, device_type="cpu")
    assert ds["train_batch_size"] == 16
    assert ds["train_micro_batch_size_per_gpu"] == 2 and ds["gradient_accumulation_steps"] == 4
    assert ds["zero_optimization"]["stage"] == stage
    assert ds["bf16"] == {"enabled": False}  # precision=auto on CPU is fp32
    # Plain fp32 ZeRO-0 clips inside our non-finite guard; every other setup lets DeepSpeed clip.
    assert ds["gradient_clipping"] == (0.0 if stage == 0 else 0.5)
    assert ds["checkpoint"] == {"load_universal": False}
    assert ("stage3_prefetch_bucket_size" in ds["zero_optimization"]) == (stage == 3)


def test_offload_groups_configure_cpu_offload() -> None:
    ds = deepspeed_config(_cfg("deepspeed=zero3_offload"), dp_size=1, device_type="cpu", load_universal=True)
    zero = ds["zero_optimization"]
    assert zero["offload_optimizer"]["device"] == "cpu" and zero["offload_param"]["device"] == "cpu"
    assert ds["checkpoint"]["load_universal"] is True
    assert "offload_optimizer" not in deepspeed_config(_cfg("deepspeed=zero2"), 1, "cpu")["zero_optimization"]


def test_precision_resolution_on_cpu() -> None:
    assert resolve_precision(Precision.auto, "cpu") == "fp32"
    assert resolve_precision(Precision.fp32, "cpu") == "fp32"
    assert resolve_precision(Precision.bf16, "cpu") == "bf16"


def test_lr_schedule_warmup_then_cosine_to_floor() -> None:
    warmup, total, floor = 10, 110, 0.1
    values = [lr_factor(s, warmup, total, floor) for s in range(total + 20)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(values[:10], values[1:10]))
    assert values[60] == pytest.approx(floor + (1 - floor) * 0.5)  # halfway through the cosine
    assert values[110] == pytest.approx(floor) and values[-1] == pytest.approx(floor)
    assert lr_factor(0, 0, 10, 0.0) == pytest.approx(1.0)


def test_scheduler_follows_new_max_steps_after_reload() -> None:
    """The schedule's horizon is the current command's max_steps, not the checkpoint's."""
    param = torch.nn.Parameter(torch.zeros(1))
    short = build_lr_scheduler(torch.optim.SGD([param], lr=1.0), _cfg("max_steps=20", "optim.warmup_steps=0"))
    for _ in range(10):
        short.optimizer.step()
        short.step()
    longer = build_lr_scheduler(torch.optim.SGD([param], lr=1.0), _cfg("max_steps=40", "optim.warmup_steps=0"))
    longer.load_state_dict(short.state_dict())
    longer.optimizer.step()
    longer.step()
    assert longer.get_last_lr()[0] == pytest.approx(lr_factor(11, 0, 40, 0.1))


def test_guard_skips_nonfinite_and_clips() -> None:
    weight = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([weight], lr=1.0)
    guard_nonfinite_steps(opt, grad_clip=1.0)
    weight.grad = torch.tensor([3.0, 4.0, 0.0])  # norm 5 -> clipped to 1
    opt.step()
    assert not opt.overflow and float(opt._global_grad_norm) == pytest.approx(5.0)
    assert weight.detach().tolist() == pytest.approx([1 - 0.6, 1 - 0.8, 1.0])
    before = weight.detach().clone()
    weight.grad = torch.tensor([math.nan, 1.0, 1.0])
    opt.step()
    assert opt.overflow and torch.equal(weight.detach(), before)
