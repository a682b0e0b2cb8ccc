"""Structured config for ``python -m train`` (defaults live in conf/train.yaml and its groups)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from openpretrain.errors import require
from openpretrain.logger import LoggerConfig, LoggerMode  # noqa: F401 - shared with data_prep, re-exported
from train.objectives.config import ObjectiveConfig, validate_objective


class Offload(str, Enum):
    none = "none"
    cpu = "cpu"


class Precision(str, Enum):
    auto = "auto"  # bf16 on a GPU that supports it, fp32 on CPU
    bf16 = "bf16"
    fp32 = "fp32"


@dataclass
class ModelConfig:
    name: str = MISSING
    dim: int = MISSING
    n_layers: int = MISSING
    n_heads: int = MISSING
    n_kv_heads: int = MISSING
    ffn_dim: int = MISSING
    vocab_size: int | None = MISSING  # None = take it from the data manifest's tokenizer
    pad_vocab_to: int = MISSING  # round the embedding up so matmuls hit tensor-core friendly shapes
    max_seq_len: int = MISSING
    rope_theta: float = MISSING
    norm_eps: float = MISSING
    tie_embeddings: bool = MISSING
    init_std: float = MISSING
    qkv_bias: bool = MISSING  # biases on the q/k/v projections (Qwen2's shape)
    # Continued pretraining: a Hugging Face folder (or hub id) whose shape and weights the run starts from;
    # the shape keys above are then not used (train/hf/).
    init_from: str | None = MISSING
    resize_vocab_to: int | None = MISSING  # with init_from: grow the embedding for an extended tokenizer


@dataclass
class DeepSpeedConfig:
    name: str = MISSING
    zero_stage: int = MISSING
    offload_optimizer: Offload = MISSING
    offload_param: Offload = MISSING
    precision: Precision = MISSING
    allgather_bucket_size: int = MISSING
    reduce_bucket_size: int = MISSING
    overlap_comm: bool = MISSING
    contiguous_gradients: bool = MISSING
    stage3_prefetch_bucket_size: int = MISSING
    stage3_param_persistence_threshold: int = MISSING


class OnCorrupt(str, Enum):
    error = "error"  # stop with an error naming the shard
    skip = "skip"  # mask the sample out of the loss, count it, keep going


@dataclass
class MixEntry:
    path: str = MISSING  # a data_prep output directory
    weight: float = 1.0  # relative share of training samples drawn from it
    name: str | None = None  # label in sample ids and metrics; default: the directory's name


@dataclass
class DataConfig:
    path: str | None = MISSING  # a data_prep output directory (holds manifest.json); or use mix
    mix: list[MixEntry] = MISSING  # weighted datasets sharing one tokenizer
    num_workers: int = MISSING  # reader threads per rank (0 = read in the training thread)
    prefetch: int = MISSING  # micro batches read ahead per rank
    shuffle: bool = MISSING  # a fresh permutation every epoch (seed + epoch); false = shard order
    shuffle_block_shards: int = MISSING  # samples are shuffled across blocks of this many shards
    on_corrupt: OnCorrupt = MISSING
    log_sample_ids: bool = MISSING  # append consumed sample ids to run_dir/sample_ids/rank*.jsonl
    max_synthetic_share: float | None = MISSING  # cap on the mix's synthetic token share (null = no cap)
    allow_dropped_datasets: bool = MISSING  # resume although checkpoint datasets left the mix (loop: replace)


@dataclass
class OptimConfig:
    name: str = MISSING
    lr: float = MISSING
    min_lr_ratio: float = MISSING  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = MISSING
    weight_decay: float = MISSING
    beta1: float = MISSING
    beta2: float = MISSING
    eps: float = MISSING
    grad_clip: float = MISSING


class SdpaBackend(str, Enum):
    auto = "auto"  # PyTorch picks (flash / cuDNN on a recent GPU for bf16 causal attention)
    flash = "flash"
    cudnn = "cudnn"
    efficient = "efficient"
    math = "math"


@dataclass
class PerfConfig:
    """Throughput levers (train/perf/, bench/NOTES.md)."""

    loss_chunk_size: int = MISSING  # tokens per lm_head + cross-entropy chunk; 0 = full fp32 logits
    fused_adam: bool = MISSING  # DeepSpeed FusedAdam on CUDA (else torch AdamW fused); offload uses CPU Adam
    activation_checkpointing: int = MISSING  # recompute every k-th block in backward; 0 = off, 1 = all
    sdpa_backend: SdpaBackend = MISSING


@dataclass
class StabilityConfig:
    """Issue 4: what happens when a step goes wrong (train/stability.py)."""

    # A step whose loss or gradient norm is NaN/inf is never applied; it is counted in skipped_steps.
    max_skipped_steps: int = MISSING  # stop with an error after this many non-finite steps in one run
    # A loss above spike_factor x the running mean of the last spike_window losses rolls the model back to
    # the last complete checkpoint; the batches from there up to the spike are skipped. 0 = off.
    spike_factor: float = MISSING
    spike_window: int = MISSING
    spike_min_history: int = MISSING  # losses needed before spikes are judged (early training moves fast)
    max_rollbacks: int = MISSING  # stop with an error after this many rollbacks in one run


@dataclass
class GenerationsConfig:
    """The W&B ``generations`` table: these prompts continued every eval_every steps (same seed each time)."""

    prompts: list[str] = MISSING  # empty: no table
    max_new_tokens: int = MISSING
    temperature: float = MISSING  # 0 = greedy
    top_k: int = MISSING  # 0 = off
    seed: int = MISSING


@dataclass
class TrainConfig:
    run_dir: str = MISSING
    max_steps: int = MISSING
    micro_batch_size: int = MISSING  # sequences per rank per forward/backward
    grad_accum_steps: int = MISSING
    global_batch_size: int | None = MISSING  # if set, must equal micro x accum x data-parallel size
    seq_len: int | None = MISSING  # None = the manifest's seq_len; smaller values crop each sample
    seed: int = MISSING
    log_every: int = MISSING
    eval_every: int = MISSING
    eval_batches: int = MISSING
    checkpoint_every: int = MISSING
    keep_checkpoints: int = MISSING
    auto_resume: bool = MISSING  # continue from run_dir/checkpoints' newest complete checkpoint
    peak_flops: float | None = MISSING  # per device, for MFU; null = look the GPU up in train.perf's table
    compile: bool = MISSING
    model: ModelConfig = field(default_factory=ModelConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    generations: GenerationsConfig = field(default_factory=GenerationsConfig)
    perf: PerfConfig = field(default_factory=PerfConfig)
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)


def _positive(value: int, key: str) -> None:
    require(value >= 1, key, f"must be >= 1, got {value}")


def validate(cfg: TrainConfig) -> None:
    """Range and consistency checks OmegaConf's types cannot express."""
    require(bool(cfg.run_dir), "run_dir", "must be set, e.g. run_dir=runs/tiny")
    require(bool(cfg.data.path) or bool(cfg.data.mix), "data.path",
            "must point to a data_prep output directory (or give data.mix=[{path: DIR, weight: W}, ...])")
    require(not (cfg.data.path and cfg.data.mix), "data.mix", "give either data.path or data.mix, not both")
    # max_steps=0 saves the initial weights as step_0 (with model.init_from: the HF model as a checkpoint).
    require(cfg.max_steps >= 0, "max_steps", f"must be >= 0, got {cfg.max_steps}")
    for key in ("micro_batch_size", "grad_accum_steps", "log_every", "eval_every", "checkpoint_every",
                "keep_checkpoints"):
        _positive(getattr(cfg, key), key)
    require(cfg.eval_batches >= 0, "eval_batches", f"must be >= 0, got {cfg.eval_batches}")
    _positive(cfg.generations.max_new_tokens, "generations.max_new_tokens")
    require(cfg.generations.temperature >= 0, "generations.temperature",
            f"must be >= 0 (0 = greedy), got {cfg.generations.temperature}")
    require(cfg.generations.top_k >= 0, "generations.top_k", f"must be >= 0 (0 = off), got {cfg.generations.top_k}")
    if cfg.seq_len is not None:
        _positive(cfg.seq_len, "seq_len")
    m = cfg.model
    for key in ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim"):
        _positive(getattr(m, key), f"model.{key}")
    require(m.dim % m.n_heads == 0, "model.dim", f"{m.dim} is not divisible by model.n_heads={m.n_heads}")
    require(m.n_heads % m.n_kv_heads == 0, "model.n_kv_heads",
            f"{m.n_kv_heads} must divide model.n_heads={m.n_heads}")
    require((m.dim // m.n_heads) % 2 == 0, "model.dim", "head dim (dim / n_heads) must be even for RoPE")
    if m.resize_vocab_to is not None:
        require(bool(m.init_from), "model.resize_vocab_to", "grows an init model's embedding: set model.init_from too")
        _positive(m.resize_vocab_to, "model.resize_vocab_to")
    require(cfg.deepspeed.zero_stage in (0, 1, 2, 3), "deepspeed.zero_stage",
            f"must be one of 0, 1, 2, 3; got {cfg.deepspeed.zero_stage}")
    if cfg.deepspeed.offload_param == Offload.cpu:
        require(cfg.deepspeed.zero_stage == 3, "deepspeed.offload_param", "cpu offload of parameters needs zero_stage=3")
    o = cfg.optim
    require(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}")
    require(0 <= o.min_lr_ratio <= 1, "optim.min_lr_ratio", f"must be in [0, 1], got {o.min_lr_ratio}")
    require(o.warmup_steps >= 0, "optim.warmup_steps", f"must be >= 0, got {o.warmup_steps}")
    _validate_data(cfg.data)
    validate_objective(cfg.objective)
    _validate_perf(cfg.perf)
    _validate_stability(cfg.stability)
    require(cfg.peak_flops is None or cfg.peak_flops > 0, "peak_flops", f"must be > 0 or null, got {cfg.peak_flops}")


def _validate_stability(s: StabilityConfig) -> None:
    require(s.spike_factor == 0 or s.spike_factor > 1, "stability.spike_factor",
            f"must be > 1 (or 0 = off), got {s.spike_factor}")
    for key in ("spike_window", "spike_min_history"):
        _positive(getattr(s, key), f"stability.{key}")
    for key in ("max_skipped_steps", "max_rollbacks"):
        require(getattr(s, key) >= 0, f"stability.{key}", f"must be >= 0, got {getattr(s, key)}")


def _validate_perf(p: PerfConfig) -> None:
    require(p.loss_chunk_size >= 0, "perf.loss_chunk_size", f"must be >= 0 (0 = off), got {p.loss_chunk_size}")
    require(p.activation_checkpointing >= 0, "perf.activation_checkpointing",
            f"must be >= 0 (0 = off, k = every k-th block), got {p.activation_checkpointing}")


def _validate_data(d: DataConfig) -> None:
    require(d.num_workers >= 0, "data.num_workers", f"must be >= 0, got {d.num_workers}")
    _positive(d.prefetch, "data.prefetch")
    _positive(d.shuffle_block_shards, "data.shuffle_block_shards")
    cap = d.max_synthetic_share
    require(cap is None or 0 < cap < 1, "data.max_synthetic_share", f"must be in (0, 1) or null (no cap), got {cap}")
    for i, entry in enumerate(d.mix):
        require(bool(entry.path), f"data.mix[{i}].path", "must point to a data_prep output directory")
        require(entry.weight > 0, f"data.mix[{i}].weight", f"must be > 0, got {entry.weight}")


def register() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
