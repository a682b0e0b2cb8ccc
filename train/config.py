"""Structured config for ``python -m train`` (defaults live in conf/train.yaml and its groups)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from openpretrain.errors import require


class LoggerMode(str, Enum):
    online = "online"
    offline = "offline"
    disabled = "disabled"


class Offload(str, Enum):
    none = "none"
    cpu = "cpu"


class Precision(str, Enum):
    auto = "auto"  # bf16 on a GPU that supports it, fp32 on CPU
    bf16 = "bf16"
    fp32 = "fp32"


@dataclass
class ModelConfig:
    name: str = "tiny"
    dim: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    ffn_dim: int = 352
    vocab_size: int | None = None  # None = take it from the data manifest's tokenizer
    pad_vocab_to: int = 128  # round the embedding up so matmuls hit tensor-core friendly shapes
    max_seq_len: int = 4096
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False
    init_std: float = 0.02


@dataclass
class DeepSpeedConfig:
    name: str = "zero2"
    zero_stage: int = 2
    offload_optimizer: Offload = Offload.none
    offload_param: Offload = Offload.none
    precision: Precision = Precision.auto
    allgather_bucket_size: int = 200_000_000
    reduce_bucket_size: int = 200_000_000
    overlap_comm: bool = True
    contiguous_gradients: bool = True
    stage3_prefetch_bucket_size: int = 50_000_000
    stage3_param_persistence_threshold: int = 100_000


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
    path: str | None = None  # a data_prep output directory (holds manifest.json); or use mix
    mix: list[MixEntry] = field(default_factory=list)  # weighted datasets sharing one tokenizer
    num_workers: int = 2  # reader threads per rank (0 = read in the training thread)
    prefetch: int = 4  # micro batches read ahead per rank
    shuffle: bool = True  # a fresh permutation every epoch (seed + epoch); false = shard order
    shuffle_block_shards: int = 8  # samples are shuffled across blocks of this many shards
    on_corrupt: OnCorrupt = OnCorrupt.error
    log_sample_ids: bool = False  # append consumed sample ids to run_dir/sample_ids/rank*.jsonl


@dataclass
class OptimConfig:
    name: str = "adamw"
    lr: float = 3e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 20
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0


@dataclass
class LoggerConfig:
    mode: LoggerMode = LoggerMode.offline
    project: str = "openpretrain"
    entity: str | None = None
    name: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)


class SdpaBackend(str, Enum):
    auto = "auto"  # PyTorch picks (flash / cuDNN on a recent GPU for bf16 causal attention)
    flash = "flash"
    cudnn = "cudnn"
    efficient = "efficient"
    math = "math"


@dataclass
class PerfConfig:
    """Throughput levers (train/perf.py, bench/NOTES.md)."""

    loss_chunk_size: int = 4096  # tokens per lm_head + cross-entropy chunk; 0 = full fp32 logits
    fused_adam: bool = True  # DeepSpeed FusedAdam on CUDA (else torch AdamW fused); offload uses CPU Adam
    activation_checkpointing: int = 0  # recompute every k-th block in backward; 0 = off, 1 = all
    sdpa_backend: SdpaBackend = SdpaBackend.auto


@dataclass
class StabilityConfig:
    """Issue 4: what happens when a step goes wrong (train/stability.py)."""

    # A step whose loss or gradient norm is NaN/inf is never applied; it is counted in skipped_steps.
    max_skipped_steps: int = 100  # stop with an error after this many non-finite steps in one run
    # A loss above spike_factor x the running mean of the last spike_window losses rolls the model back to
    # the last complete checkpoint; the batches from there up to the spike are skipped. 0 = off.
    spike_factor: float = 3.0
    spike_window: int = 50
    spike_min_history: int = 20  # losses needed before spikes are judged (early training moves fast)
    max_rollbacks: int = 5  # stop with an error after this many rollbacks in one run


@dataclass
class FaultsConfig:
    """Fault injection for tests and drills; every field null = off. Never set these in a real run."""

    nan_at_step: int | None = None  # rank 0's loss of this step becomes NaN
    spike_at_step: int | None = None  # rank 0's loss of this step is multiplied by spike_scale (once)
    spike_scale: float = 100.0
    kill_during_save_at_step: int | None = None  # SIGKILL rank 0 after the checkpoint files, before the marker


@dataclass
class GenerationsConfig:
    """The W&B ``generations`` table: these prompts continued every eval_every steps (same seed each time)."""

    prompts: list[str] = field(default_factory=list)  # empty: no table
    max_new_tokens: int = 32
    temperature: float = 0.8
    top_k: int = 50
    seed: int = 0


@dataclass
class TrainConfig:
    run_dir: str = MISSING
    max_steps: int = 100
    micro_batch_size: int = 8  # sequences per rank per forward/backward
    grad_accum_steps: int = 1
    global_batch_size: int | None = None  # if set, must equal micro x accum x data-parallel size
    seq_len: int | None = None  # None = the manifest's seq_len; smaller values crop each sample
    seed: int = 1234
    log_every: int = 5
    eval_every: int = 50
    eval_batches: int = 4
    checkpoint_every: int = 50
    keep_checkpoints: int = 3
    auto_resume: bool = True  # continue from run_dir/checkpoints' newest complete checkpoint
    peak_flops: float | None = None  # per device, for MFU; null = look the GPU up in train.perf's table
    compile: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    generations: GenerationsConfig = field(default_factory=GenerationsConfig)
    perf: PerfConfig = field(default_factory=PerfConfig)
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)


def _positive(value: int, key: str) -> None:
    require(value >= 1, key, f"must be >= 1, got {value}")


def validate(cfg: TrainConfig) -> None:
    """Range and consistency checks OmegaConf's types cannot express."""
    require(bool(cfg.run_dir), "run_dir", "must be set, e.g. run_dir=runs/tiny")
    require(bool(cfg.data.path) or bool(cfg.data.mix), "data.path",
            "must point to a data_prep output directory (or give data.mix=[{path: DIR, weight: W}, ...])")
    require(not (cfg.data.path and cfg.data.mix), "data.mix", "give either data.path or data.mix, not both")
    for key in ("max_steps", "micro_batch_size", "grad_accum_steps", "log_every", "eval_every",
                "checkpoint_every", "keep_checkpoints"):
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
    require(cfg.deepspeed.zero_stage in (0, 1, 2, 3), "deepspeed.zero_stage",
            f"must be one of 0, 1, 2, 3; got {cfg.deepspeed.zero_stage}")
    if cfg.deepspeed.offload_param == Offload.cpu:
        require(cfg.deepspeed.zero_stage == 3, "deepspeed.offload_param", "cpu offload of parameters needs zero_stage=3")
    o = cfg.optim
    require(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}")
    require(0 <= o.min_lr_ratio <= 1, "optim.min_lr_ratio", f"must be in [0, 1], got {o.min_lr_ratio}")
    require(o.warmup_steps >= 0, "optim.warmup_steps", f"must be >= 0, got {o.warmup_steps}")
    _validate_data(cfg.data)
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
    for i, entry in enumerate(d.mix):
        require(bool(entry.path), f"data.mix[{i}].path", "must point to a data_prep output directory")
        require(entry.weight > 0, f"data.mix[{i}].weight", f"must be > 0, got {entry.weight}")


def register() -> None:
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
