"""The DeepSpeed side of training: process group, the DeepSpeed JSON built from Hydra, optimizer + schedule.

The DeepSpeed config is derived from ``conf/deepspeed/*.yaml`` (TrainConfig.deepspeed) and the batch
settings here, never kept as a second hand-written JSON. Batch sizes are derived and checked:
global = micro x accumulation x data-parallel size.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import types
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from openpretrain.errors import ConfigError
from train.config import Offload, Precision, TrainConfig

log = logging.getLogger(__name__)

# We print our own metrics; DeepSpeed's periodic progress line would duplicate them.
_DS_STEPS_PER_PRINT = 2**31 - 1
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device_type(self) -> str:
        return self.device.type


def prepare_environment() -> str:
    """Call before deepspeed is imported: pick its accelerator. Returns "cuda" or "cpu"."""
    from train.perf import fix_cuda_arch_list

    # DeepSpeed's ZeRO-2 all-gather uses a torch API that now warns on every rank at every start; the
    # warning is not actionable for our users (nor for us until DeepSpeed moves), so keep the log clean.
    warnings.filterwarnings("ignore", message=r".*all_gather_into_tensor.*deprecated", category=FutureWarning)
    if torch.cuda.is_available():
        fix_cuda_arch_list()
        return "cuda"
    # DeepSpeed picks its accelerator once, at import; without a GPU it must be told to use the CPU one.
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    return "cpu"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def init_distributed() -> DistEnv:
    """Join the torchrun/srun process group, or make a one-process group for plain ``python -m train``."""
    device_type = prepare_environment()
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        os.environ.setdefault("MASTER_ADDR", LOOPBACK)
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    import deepspeed

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    deepspeed.init_distributed(dist_backend="nccl" if device_type == "cuda" else "gloo")
    import torch.distributed as dist

    return DistEnv(dist.get_rank(), dist.get_world_size(), local_rank, device)


def shutdown_distributed(barrier: bool = True) -> None:
    """Leave the process group before the interpreter exits.

    A process that exits with the gloo group (or DeepSpeed's shm comm) still up can abort in C++ destructors
    ("terminate called without an active exception", rc -6) after its work is done. ``barrier=False`` on an
    error path: the other ranks may have failed too, and a barrier would hang.
    """
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


@dataclass(frozen=True)
class BatchSizes:
    micro: int  # sequences per rank per forward/backward
    accum: int  # micro steps per optimizer step
    dp_size: int  # data-parallel ranks

    @property
    def global_(self) -> int:
        return self.micro * self.accum * self.dp_size


def batch_sizes(cfg: TrainConfig, dp_size: int) -> BatchSizes:
    sizes = BatchSizes(cfg.micro_batch_size, cfg.grad_accum_steps, dp_size)
    if cfg.global_batch_size is not None and cfg.global_batch_size != sizes.global_:
        hint = ""
        per_rank = cfg.global_batch_size / (sizes.micro * dp_size)
        if per_rank == int(per_rank):
            hint = f"; grad_accum_steps={int(per_rank)} would match"
        raise ConfigError(
            "global_batch_size",
            f"{cfg.global_batch_size} != micro_batch_size {sizes.micro} x grad_accum_steps {sizes.accum} "
            f"x {dp_size} data-parallel ranks = {sizes.global_}{hint}",
        )
    return sizes


def resolve_precision(precision: Precision, device_type: str) -> str:
    """"bf16" or "fp32". auto = bf16 on a GPU that has it, fp32 otherwise (CPU, pre-Ampere GPUs)."""
    if precision == Precision.auto:
        return "bf16" if device_type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == Precision.bf16 and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("deepspeed.precision", "bf16 needs an Ampere or newer GPU; use auto or fp32")
    return precision.value


def guards_nonfinite_itself(cfg: TrainConfig, precision: str) -> bool:
    """ZeRO 1-3 and DeepSpeed's bf16 optimizer skip non-finite steps; plain fp32 ZeRO-0 does not."""
    return cfg.deepspeed.zero_stage == 0 and precision == "fp32"


def _zero_section(cfg: TrainConfig, device_type: str) -> dict[str, Any]:
    d = cfg.deepspeed
    zero: dict[str, Any] = {"stage": d.zero_stage}
    if d.zero_stage == 0:
        return zero
    zero.update(
        allgather_bucket_size=d.allgather_bucket_size,
        reduce_bucket_size=d.reduce_bucket_size,
        overlap_comm=d.overlap_comm,
        contiguous_gradients=d.contiguous_gradients,
    )
    pin = device_type == "cuda"
    if d.offload_optimizer == Offload.cpu:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": pin}
    if d.zero_stage == 3:
        zero.update(
            stage3_prefetch_bucket_size=d.stage3_prefetch_bucket_size,
            stage3_param_persistence_threshold=d.stage3_param_persistence_threshold,
        )
        if d.offload_param == Offload.cpu:
            zero["offload_param"] = {"device": "cpu", "pin_memory": pin}
    return zero


def deepspeed_config(
    cfg: TrainConfig, dp_size: int, device_type: str, load_universal: bool = False
) -> dict[str, Any]:
    """The DeepSpeed JSON for this run, derived from the Hydra config."""
    sizes = batch_sizes(cfg, dp_size)
    precision = resolve_precision(cfg.deepspeed.precision, device_type)
    # Where we guard non-finite steps ourselves, clipping happens in that guard (it needs the raw norm).
    clip = 0.0 if guards_nonfinite_itself(cfg, precision) else cfg.optim.grad_clip
    return {
        "train_batch_size": sizes.global_,
        "train_micro_batch_size_per_gpu": sizes.micro,
        "gradient_accumulation_steps": sizes.accum,
        "gradient_clipping": clip,
        "zero_optimization": _zero_section(cfg, device_type),
        "bf16": {"enabled": precision == "bf16"},
        "steps_per_print": _DS_STEPS_PER_PRINT,
        "wall_clock_breakdown": False,
        "checkpoint": {"load_universal": load_universal},
    }


def lr_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Linear warmup to 1 over ``warmup_steps``, then cosine down to ``min_lr_ratio`` at ``total_steps``.

    ``step`` counts applied optimizer steps from 0 (the value LambdaLR passes).
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_lr_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    o = cfg.optim

    # A plain function (not a callable object): LambdaLR then saves only its step count, so a resumed run
    # with a different max_steps follows the new horizon.
    def factor(step: int) -> float:
        return lr_factor(step, o.warmup_steps, cfg.max_steps, o.min_lr_ratio)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def guard_nonfinite_steps(optimizer: torch.optim.Optimizer, grad_clip: float) -> None:
    """Make ``optimizer.step()`` clip, and skip (``optimizer.overflow = True``) when the norm is not finite.

    DeepSpeed reads ``optimizer.overflow`` after every step: when set it counts the step as skipped,
    does not advance the LR schedule, and zeroes the gradients. Patched on the instance so it works for
    any optimizer class build_optimizer returns.
    """
    inner_step = optimizer.step
    max_norm = grad_clip if grad_clip > 0 else math.inf
    optimizer.overflow = False

    def step(self: torch.optim.Optimizer, closure: Any = None) -> Any:
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self._global_grad_norm = norm
        self.overflow = not bool(torch.isfinite(norm))
        return None if self.overflow else inner_step(closure)

    # A bound method, as LambdaLR (which wraps optimizer.step to count calls) expects.
    optimizer.step = types.MethodType(step, optimizer)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device_type: str) -> torch.optim.Optimizer:
    from train.perf import build_optimizer as perf_build_optimizer

    return perf_build_optimizer(model.parameters(), cfg, device_type)


def build_engine(model: torch.nn.Module, cfg: TrainConfig, env: DistEnv, load_universal: bool = False) -> Any:
    """deepspeed.initialize with our AdamW and warmup+cosine schedule; returns the engine."""
    import deepspeed

    ds_config = deepspeed_config(cfg, env.world_size, env.device_type, load_universal)
    optimizer = build_optimizer(model, cfg, env.device_type)
    precision = resolve_precision(cfg.deepspeed.precision, env.device_type)
    if guards_nonfinite_itself(cfg, precision):
        guard_nonfinite_steps(optimizer, cfg.optim.grad_clip)
    scheduler = build_lr_scheduler(optimizer, cfg)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config, dist_init_required=False
    )
    log.debug("DeepSpeed config: %s", ds_config)
    if cfg.compile:
        engine.compile()  # torch.compile of the module's forward, which includes the loss (train/perf/loss_head.py)
    return engine


# Per-group settings that come from our config, not from the checkpoint.
_GROUP_SETTINGS = ("weight_decay",)


def load_checkpoint(engine: Any, load_dir: str, tag: str) -> tuple[str | None, dict[str, Any]]:
    """engine.load_checkpoint, repairing two things DeepSpeed's ZeRO-3 universal loader gets wrong.

    It copies param group 0's hyperparameters onto every group (weight decay would reach the norm
    weights of our group 1), and it gives every group the *same* Adam ``step`` tensor, which torch's
    AdamW increments in place once per group, so later groups see a step count that runs ahead and a
    wrong bias correction. Measured: a loss drift of ~1e-3 within three steps of a 2 -> 1 rank resume;
    with both repairs the resumed losses match an uninterrupted run.
    """
    groups = _inner_optimizer(engine).param_groups
    before = [{key: group[key] for key in _GROUP_SETTINGS if key in group} for group in groups]
    path, client = engine.load_checkpoint(load_dir, tag=tag)
    inner = _inner_optimizer(engine)
    for group, settings in zip(inner.param_groups, before):
        group.update(settings)
    for state in inner.state.values():
        if isinstance(state.get("step"), torch.Tensor):
            state["step"] = state["step"].clone()
    return path, client


def _inner_optimizer(engine: Any) -> torch.optim.Optimizer:
    """The torch optimizer under DeepSpeed's wrapper (ZeRO / bf16), or the optimizer itself at ZeRO-0 fp32."""
    optimizer = engine.optimizer
    return getattr(optimizer, "optimizer", optimizer)
