"""Performance levers for the training step (issue 6), each switchable from ``perf:`` in conf/train.yaml.

One module per concern: ``device_env`` (TORCH_CUDA_ARCH_LIST for DeepSpeed's op builder), ``loss_head``
(chunked lm_head + cross-entropy), ``optimizer`` (which Adam), ``model_patches`` (activation
checkpointing, SDPA backend), ``mfu`` (the FLOPs formula and peak table).
"""

from train.perf.device_env import fix_cuda_arch_list, normalise_cuda_arch_list
from train.perf.loss_head import IGNORE_INDEX, linear_cross_entropy
from train.perf.mfu import PEAK_BF16_FLOPS, flops_per_token, mfu, model_flops_per_token, peak_flops_for
from train.perf.model_patches import SDPA_BACKENDS, apply_model_options, sdpa_backend
from train.perf.optimizer import (
    DEEPSPEED_CPU_ADAM,
    DEEPSPEED_FUSED_ADAM,
    TORCH_ADAMW,
    build_optimizer,
    optimizer_kind,
    param_groups,
)

__all__ = ["DEEPSPEED_CPU_ADAM", "DEEPSPEED_FUSED_ADAM", "IGNORE_INDEX", "PEAK_BF16_FLOPS", "SDPA_BACKENDS",
           "TORCH_ADAMW", "apply_model_options", "build_optimizer", "fix_cuda_arch_list", "flops_per_token",
           "linear_cross_entropy", "mfu", "model_flops_per_token", "normalise_cuda_arch_list", "optimizer_kind",
           "param_groups", "peak_flops_for", "sdpa_backend"]
