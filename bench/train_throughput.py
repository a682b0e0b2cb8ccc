"""Training throughput: our stack vs Hugging Face LlamaForCausalLM + DeepSpeed ZeRO-2, same shape, same run.

Ours is the real training stack: conf/train.yaml composed by Hydra (so every ``perf.*``, ``deepspeed=``,
``compile=`` override works as in ``python -m train``), ``train.model_setup.build_model`` and
``train.engine.build_engine``, and the loop's step (micro batches through ``engine(inputs, targets=...)``,
one all-reduce + read of the loss per optimizer step). Tokens come from a synthetic source (pinned host
tensors, like the loader's) or from real shards through ``train.data`` (``--data DIR``).

    python bench/train_throughput.py --cpu-smoke
    python bench/train_throughput.py --model llama_1b --deepspeed zero2 --micro-batch 8 --seq-len 2048 \
        compile=true
    torchrun --nproc-per-node=8 bench/train_throughput.py --model llama_1b ...

Trailing ``key=value`` arguments are Hydra overrides for our side. Prints tokens/s, MFU
(tokens/s x (6·N + 12·L·d·T) / peak, see train.perf.model_flops_per_token), peak memory and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from openpretrain.cli import CONFIG_PATH, to_object  # noqa: E402
from train.config import TrainConfig, register, validate  # noqa: E402

# Defaults for a GPU run and for --cpu-smoke; any flag given on the command line wins over both.
DEFAULTS = {"model": "llama_1b", "deepspeed": "zero2", "vocab_size": 32000, "seq_len": 2048, "micro_batch": 8, "accum": 1, "steps": 20,
            "warmup": 5}
SMOKE = {"model": "tiny", "deepspeed": "zero2", "vocab_size": 512, "seq_len": 64, "micro_batch": 4, "accum": 1, "steps": 4, "warmup": 2}
SYNTHETIC_POOL = 4  # distinct synthetic batches, cycled (no per-step host work beyond the copy)
EXPERIMENT_KEYS = {"model", "deepspeed", "micro_batch", "accum", "seq_len"}  # an --experiment may set these
BASELINE_OPTIMIZER = "AdamW"  # what HF + DeepSpeed users put in ds_config (FusedAdam on CUDA)


@dataclass
class Result:
    name: str
    micro_batch: int
    tokens_per_s: float
    step_time_s: float
    mfu: float | None
    peak_memory_gb: float
    memory_kind: str
    host_rss_gb: float  # process peak so far (the 7B offload budget is host RAM)
    final_loss: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu-smoke", action="store_true", help="tiny model on CPU, both paths, < 1 minute")
    p.add_argument("--experiment", help="conf/experiment/<name>.yaml: its model, ZeRO, batch and perf settings "
                   "(flags given explicitly still win)")
    p.add_argument("--model", help="conf/model/<name>.yaml (default llama_1b)")
    p.add_argument("--deepspeed", help="conf/deepspeed/<name>.yaml for our side (default zero2)")
    p.add_argument("--micro-batch", type=int, help="default 8")
    p.add_argument("--baseline-micro-batch", type=int, default=None, help="default: --micro-batch")
    p.add_argument("--accum", type=int, help="grad_accum_steps, both sides (default 1)")
    p.add_argument("--seq-len", type=int, help="default 2048")
    p.add_argument("--vocab-size", type=int, help="when the model config leaves it to the data (default 32000)")
    p.add_argument("--steps", type=int, help="timed optimizer steps (default 20)")
    p.add_argument("--warmup", type=int, help="untimed optimizer steps first: compile, autotune (default 5)")
    p.add_argument("--data", default=None, help="a data_prep output dir: real shards instead of synthetic tokens")
    p.add_argument("--paths", default="ours,baseline", help="comma list: ours, baseline")
    p.add_argument("--baseline-compile", action="store_true", help="engine.compile() the HF model too")
    p.add_argument("--no-step-sync", action="store_true",
                   help="skip the loop's per-step all-reduce + .item() of the loss (measures the host-sync lever)")
    p.add_argument("--peak-flops", type=float, default=None, help="per device; default: train.perf's table")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for our side, e.g. perf.loss_chunk_size=0")
    args = p.parse_args(argv)
    for key, value in (SMOKE if args.cpu_smoke else DEFAULTS).items():
        if getattr(args, key) is None and not (args.experiment and key in EXPERIMENT_KEYS):
            setattr(args, key, value)
    if args.experiment:  # the shape the experiment composes to fills the flags left unset
        cfg = compose_config(args, args.micro_batch)
        args.model, args.deepspeed = args.model or cfg.model.name, args.deepspeed or cfg.deepspeed.name
        args.micro_batch, args.accum = args.micro_batch or cfg.micro_batch_size, args.accum or cfg.grad_accum_steps
        args.seq_len = args.seq_len or cfg.seq_len or DEFAULTS["seq_len"]
    args.baseline_micro_batch = args.baseline_micro_batch or args.micro_batch
    return args


def compose_config(args: argparse.Namespace, micro_batch: int) -> TrainConfig:
    from hydra import compose, initialize_config_dir

    register()
    chosen = {"model": args.model, "deepspeed": args.deepspeed, "micro_batch_size": micro_batch,
              "grad_accum_steps": args.accum, "seq_len": args.seq_len}
    overrides = [
        *([f"+experiment={args.experiment}"] if args.experiment else []),
        *(f"{key}={value}" for key, value in chosen.items() if value is not None),
        "run_dir=bench_run", "logger.mode=disabled", f"data.path={args.data or 'synthetic'}", *args.overrides,
    ]
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        cfg: TrainConfig = to_object(compose("train", overrides=overrides))
    validate(cfg)
    if args.data:  # real shards: the tokenizer decides (build_model refuses a smaller model vocabulary)
        from train.data import data_info

        cfg.model.vocab_size = cfg.model.vocab_size or data_info(cfg).vocab_size
    elif args.cpu_smoke or cfg.model.vocab_size is None:
        cfg.model.vocab_size = args.vocab_size
    return cfg


# -- token sources ---------------------------------------------------------------------------------------


def synthetic_batches(cfg: TrainConfig, seq_len: int, vocab: int, seed: int) -> Iterator[tuple]:
    gen = torch.Generator().manual_seed(seed)
    pool = []
    for _ in range(SYNTHETIC_POOL):
        rows = torch.randint(0, vocab, (cfg.micro_batch_size, seq_len + 1), generator=gen)
        inputs, targets = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
        if torch.cuda.is_available():  # like the real loader: pinned, so the copy is asynchronous
            inputs, targets = inputs.pin_memory(), targets.pin_memory()
        pool.append((inputs, targets))
    i = 0
    while True:
        yield pool[i % SYNTHETIC_POOL]
        i += 1


def shard_batches(cfg: TrainConfig, env) -> Iterator[tuple]:  # noqa: ANN001
    from train.data import build_train_data

    with build_train_data(cfg, env.rank, env.world_size) as data:
        for batch in data:
            yield batch.inputs, batch.targets


def token_source(args: argparse.Namespace, cfg: TrainConfig, env, vocab: int) -> Iterator[tuple]:  # noqa: ANN001
    if args.data:
        return shard_batches(cfg, env)
    return synthetic_batches(cfg, args.seq_len, vocab, seed=cfg.seed + env.rank)


# -- timing ----------------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _host_peak_rss_gb() -> float:
    # Process-wide and never reset: the second path's number includes the first's.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "GPU allocated"
    return _host_peak_rss_gb(), "host RSS (process)"


def timed_steps(step: Callable[[], torch.Tensor], env, warmup: int, steps: int) -> tuple[float, float]:  # noqa: ANN001
    """Seconds for ``steps`` optimizer steps after ``warmup`` untimed ones; the last loss."""
    for _ in range(warmup):
        step()
    _sync(env.device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    _sync(env.device)
    return time.perf_counter() - start, float(loss)


def make_step(engine, batches: Iterator[tuple], env, accum: int, step_sync: bool,  # noqa: ANN001
              forward: Callable) -> Callable[[], torch.Tensor]:
    """One optimizer step as train/loop.py does it: micro batches, then (optionally) the per-step sync."""
    import torch.distributed as dist

    def step() -> torch.Tensor:
        total = torch.zeros((), device=env.device)
        for _ in range(accum):
            inputs, targets = next(batches)
            loss = forward(engine, inputs.to(env.device, non_blocking=True),
                           targets.to(env.device, non_blocking=True))
            engine.backward(loss)
            engine.step()
            total += loss.detach().float()
        mean = total / accum
        if step_sync:  # the loop all-reduces (loss, stop flag) and reads them on the host every step
            synced = torch.stack([mean, torch.zeros((), device=env.device)])
            dist.all_reduce(synced)
            synced[0].item()
        return mean

    return step


def measure(name: str, engine, batches, env, args, micro: int, flops_per_token: float,  # noqa: ANN001
            peak: float | None, forward: Callable) -> Result:
    step = make_step(engine, batches, env, args.accum, not args.no_step_sync, forward)
    seconds, loss = timed_steps(step, env, args.warmup, args.steps)
    tokens = args.steps * micro * args.accum * args.seq_len * env.world_size
    tokens_per_s = tokens / seconds
    memory, kind = _peak_memory(env.device)
    mfu = tokens_per_s * flops_per_token / (peak * env.world_size) if peak else None
    return Result(name, micro, tokens_per_s, seconds / args.steps, mfu, memory, kind, _host_peak_rss_gb(), loss)


# -- the two paths ---------------------------------------------------------------------------------------


def run_ours(args: argparse.Namespace, env, peak: float | None) -> tuple[Result, float]:  # noqa: ANN001
    from train.engine import build_engine
    from train.model_setup import build_model, checked_model_args
    from train.perf import model_flops_per_token

    cfg = compose_config(args, args.micro_batch)
    torch.manual_seed(cfg.seed)
    model = build_model(checked_model_args(cfg.model, cfg.model.vocab_size, args.seq_len), cfg.perf)
    flops = model_flops_per_token(model, args.seq_len)
    engine = build_engine(model, cfg, env)
    if cfg.compile and not getattr(engine, "is_compiled", False):
        engine.compile()
    batches = token_source(args, cfg, env, model.args.vocab_size)
    name = f"ours ({cfg.deepspeed.name}{', compile' if cfg.compile else ''})"
    result = measure(name, engine, batches, env, args, args.micro_batch, flops, peak,
                     lambda e, x, y: e(x, targets=y))
    _release(engine)
    return result, flops


def hf_model(cfg: TrainConfig, seq_len: int):  # noqa: ANN201
    from transformers import LlamaConfig, LlamaForCausalLM

    from train.model import padded_vocab_size

    m = cfg.model
    config = LlamaConfig(
        vocab_size=padded_vocab_size(m.vocab_size, m.pad_vocab_to), hidden_size=m.dim, intermediate_size=m.ffn_dim,
        num_hidden_layers=m.n_layers, num_attention_heads=m.n_heads, num_key_value_heads=m.n_kv_heads,
        max_position_embeddings=max(seq_len, m.max_seq_len), rms_norm_eps=m.norm_eps, rope_theta=m.rope_theta,
        tie_word_embeddings=m.tie_embeddings, attn_implementation="sdpa", use_cache=False,
    )
    return LlamaForCausalLM(config)


def hf_deepspeed_config(cfg: TrainConfig, env) -> dict:  # noqa: ANN001
    """A typical user's HF + DeepSpeed ZeRO-2 JSON: bf16, DeepSpeed's own AdamW, default buckets."""
    from train.engine import resolve_precision

    o = cfg.optim
    return {
        "train_micro_batch_size_per_gpu": cfg.micro_batch_size,
        "gradient_accumulation_steps": cfg.grad_accum_steps,
        "train_batch_size": cfg.micro_batch_size * cfg.grad_accum_steps * env.world_size,
        "gradient_clipping": o.grad_clip,
        "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True},
        "bf16": {"enabled": resolve_precision(cfg.deepspeed.precision, env.device_type) == "bf16"},
        "optimizer": {"type": BASELINE_OPTIMIZER, "params": {
            "lr": o.lr, "betas": [o.beta1, o.beta2], "eps": o.eps, "weight_decay": o.weight_decay,
            # DeepSpeed's FusedAdam is a CUDA kernel; on CPU the smoke run uses torch's AdamW.
            "torch_adam": env.device_type != "cuda",
        }},
        "steps_per_print": 2**31 - 1,
    }


def run_baseline(args: argparse.Namespace, env, peak: float | None, flops: float) -> Result:  # noqa: ANN001
    import deepspeed

    cfg = compose_config(args, args.baseline_micro_batch)
    torch.manual_seed(cfg.seed)
    model = hf_model(cfg, args.seq_len)
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(),
                                      config=hf_deepspeed_config(cfg, env), dist_init_required=False)
    if args.baseline_compile:
        engine.compile()
    batches = token_source(args, cfg, env, model.config.vocab_size)
    name = f"HF Llama + DS ZeRO-2{' + compile' if args.baseline_compile else ''}"
    result = measure(name, engine, batches, env, args, args.baseline_micro_batch, flops, peak,
                     lambda e, x, _y: e(input_ids=x, labels=x).loss)
    _release(engine)
    return result


def _release(engine) -> None:  # noqa: ANN001
    """Free one path's memory before the next; peak stats restart so each path reports its own."""
    if hasattr(engine, "destroy"):
        engine.destroy()
    del engine
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# -- report ----------------------------------------------------------------------------------------------


def sdpa_choice(cfg: TrainConfig, seq_len: int, device: torch.device) -> str:
    """The SDPA kernel PyTorch picks for our training attention shape (private API: best effort)."""
    m = cfg.model
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    head_dim = m.dim // m.n_heads
    q = torch.zeros(1, m.n_heads, seq_len, head_dim, device=device, dtype=dtype)
    kv = torch.zeros(1, m.n_kv_heads, seq_len, head_dim, device=device, dtype=dtype)
    try:
        from torch.nn.attention import SDPBackend

        choice = torch._fused_sdp_choice(q, kv, kv, is_causal=True, enable_gqa=m.n_kv_heads != m.n_heads)
        return SDPBackend(choice).name
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return f"unknown ({type(exc).__name__})"



def report(results: list[Result], args: argparse.Namespace, env, sdpa: str) -> str:  # noqa: ANN001
    head = (f"shape: model={args.model} seq={args.seq_len} accum={args.accum} world={env.world_size} "
            f"device={torch.cuda.get_device_name(env.device) if env.device.type == 'cuda' else 'cpu'} "
            f"tokens={'shards ' + args.data if args.data else 'synthetic'} sdpa={sdpa}")
    lines = [head, f"{'run':44} {'micro':>5} {'tokens/s':>12} {'MFU':>7} {'step s':>8} {'peak GB':>8} "
                   f"{'host GB':>8}  loss"]
    for r in results:
        mfu = f"{r.mfu:.1%}" if r.mfu is not None else "n/a"
        lines.append(f"{r.name:44} {r.micro_batch:>5} {r.tokens_per_s:>12,.0f} {mfu:>7} {r.step_time_s:>8.3f} "
                     f"{r.peak_memory_gb:>8.2f} {r.host_rss_gb:>8.2f}  {r.final_loss:.4f}")
    lines.append(f"peak GB = {results[0].memory_kind}; host GB = process peak RSS so far")
    if len(results) == 2:
        lines.append(f"ours / baseline tokens/s: {results[0].tokens_per_s / results[1].tokens_per_s:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from train.engine import (  # fixes TORCH_CUDA_ARCH_LIST, picks DeepSpeed's accelerator
        init_distributed,
        shutdown_distributed,
    )

    env = init_distributed()
    for name in ("DeepSpeed", "deepspeed", "torch.distributed"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from train.metrics import peak_flops_per_device

    peak = peak_flops_per_device(args.peak_flops, env.device)
    paths = {p.strip() for p in args.paths.split(",")}
    results: list[Result] = []
    flops = None
    if "ours" in paths:
        ours, flops = run_ours(args, env, peak)
        results.append(ours)
    if "baseline" in paths:
        if flops is None:
            from train.model_setup import build_model, checked_model_args
            from train.perf import model_flops_per_token

            cfg = compose_config(args, args.micro_batch)
            with torch.device("meta"):
                shape = build_model(checked_model_args(cfg.model, cfg.model.vocab_size, args.seq_len), cfg.perf)
            flops = model_flops_per_token(shape, args.seq_len)
        results.append(run_baseline(args, env, peak, flops))
    if env.is_main:
        sdpa = sdpa_choice(compose_config(args, args.micro_batch), args.seq_len, env.device)
        print(report(results, args, env, sdpa), flush=True)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump({"args": vars(args), "results": [asdict(r) for r in results]}, fh, indent=2)
    shutdown_distributed()


if __name__ == "__main__":
    main()
