"""Issue 16 (3a): a training rank's start-up on a simulated 1T-token dataset's metadata.

    python bench/scale_startup.py                         # 1e6, 1e7, 1e8 samples, manifest format 2
    python bench/scale_startup.py --sizes 1e6 --format 1  # the old layout (offsets inline)
    python bench/scale_startup.py --one 1000000 --workdir W   # one size, measured in this process

Only the metadata is real: manifest.json, one sidecar index per shard (real offsets of a plausible
layout) and shard tars that are sparse placeholders truncated to their recorded size (no text, no disk
blocks). Each size is measured in a fresh process through the real loader code: Hydra config from
conf/train.yaml, ``data_info`` (manifest read, a stat per shard and index), the objective, ``TrainData``
(readers, ``EpochOrder``, fingerprint), the first global batch's plan and this rank's byte ranges (which
open the touched shards' indexes), then a resume seek 2.5 epochs in. Tokens are never read (they would
be zeros). Peak RSS is ``ru_maxrss`` of that process; ``rss_imports_mb`` is its high-water mark after
the imports, so the growth is ``peak_rss_mb - rss_imports_mb``.

``--code-root DIR`` measures another checkout's code (e.g. ``git archive`` of the commit before issue 16,
with ``--format 1``) for a before/after table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import time

PROCESS_START = time.perf_counter()
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SEQ_LEN = 2048  # tokens per sample (+1 stored): 1T tokens ≈ 4.9e8 samples
SAMPLES_PER_SHARD = 8192  # ≈ 50 MB tars: 1e8 samples = 12,208 shards
VOCAB = 50304  # GPT-NeoX-like: uint16 tokens
WORLD_SIZE, MICRO = 64, 8  # rank 0 of 64 ranks, micro batch 8: a 1M-token global batch
# Bytes of one sample in the tar: tokens.npy member (512 header + 128 npy header + 2049·2 bytes, padded to
# 512) + meta.json member (512 header + 1 block, 2 blocks for a share of samples with many documents).
TOKENS_MEMBER = 512 + 4608
META_BLOCKS_SHARE_TWO = 0.1


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s]


def _rss_hwm_mb() -> float:
    """The process's RSS high-water mark so far (VmHWM), in MiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- generation (its own process: its memory is not the measured one) ---------------------------------
def _shard_layout(number: int, samples: int):
    """Sample boundaries (samples + 1) and the tar size of a plausible shard, from a seeded RNG."""
    import numpy as np

    rng = np.random.default_rng(number)
    meta_blocks = 1 + (rng.random(samples) < META_BLOCKS_SHARE_TWO)
    sizes = TOKENS_MEMBER + 512 + 512 * meta_blocks
    boundaries = np.concatenate(([0], np.cumsum(sizes))).astype(np.uint64)
    end = int(boundaries[-1]) + 1024
    return boundaries, end + (-end % 10240)


def generate(root: str, samples: int, fmt: int) -> dict:
    """Write the metadata of a ``samples``-sample train split in manifest format ``fmt`` under ``root``."""
    from openpretrain.manifest import TOKENIZER_NAME, Manifest, ShardInfo, TokenizerInfo, shard_name
    from openpretrain.shard_index import index_name, index_payload

    start = time.perf_counter()
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    tokenizer = b'{"simulated": "tokenizer"}'
    with open(os.path.join(root, TOKENIZER_NAME), "wb") as fh:
        fh.write(tokenizer)
    shards, index_bytes = [], 0
    for number, first in enumerate(range(0, samples, SAMPLES_PER_SHARD)):
        count = min(SAMPLES_PER_SHARD, samples - first)
        boundaries, tar_bytes = _shard_layout(number, count)
        name = shard_name("train", number)
        with open(os.path.join(root, name), "wb") as fh:
            fh.truncate(tar_bytes)  # sparse placeholder of the recorded size
        shard = ShardInfo(path=name, split="train", samples=count, tokens=count * (SEQ_LEN + 1), bytes=tar_bytes,
                          sha256=hashlib.sha256(name.encode()).hexdigest())
        if fmt == 1:
            shard.offsets = boundaries[:-1].tolist()
        else:
            payload = index_payload(boundaries)
            with open(os.path.join(root, index_name(name)), "wb") as fh:
                fh.write(payload)
            shard.index, shard.index_bytes = index_name(name), len(payload)
            shard.index_sha256 = hashlib.sha256(payload).hexdigest()
            index_bytes += len(payload)
        shards.append(shard)
    manifest = Manifest(format_version=fmt, seq_len=SEQ_LEN, token_dtype="uint16",
                        tokenizer=TokenizerInfo(TOKENIZER_NAME, VOCAB, 0, None, hashlib.sha256(tokenizer).hexdigest()),
                        shards=shards, stats={"samples": {"train": samples, "val": 0}})
    manifest.write(root)
    return {"shards": len(shards), "manifest_bytes": os.path.getsize(os.path.join(root, "manifest.json")),
            "index_bytes": index_bytes, "generate_s": round(time.perf_counter() - start, 2)}


# -- the measured start-up ------------------------------------------------------------------------------
def _train_cfg(data: str, run_dir: str):
    from hydra import compose, initialize_config_dir

    from openpretrain.cli import CONFIG_PATH, to_object
    from train.config import register

    register()
    overrides = [f"data.path={data}", f"run_dir={run_dir}", f"micro_batch_size={MICRO}", "grad_accum_steps=1",
                 "eval_batches=0", "objective=clm"]
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return to_object(compose("train", overrides=overrides))


def _with_info(fn, info) -> dict:
    """Pass the DataInfo on where the code under test accepts it (the code before issue 16 did not)."""
    return {"info": info} if "info" in inspect.signature(fn).parameters else {}


def _rank_stripe(fn) -> dict:
    """Rank 0's stripe of the shard-file check where the code under test splits it (after issue 16)."""
    if "stripe" not in inspect.signature(fn).parameters:
        return {}
    from train.data.shard_check import Stripe

    return {"stripe": Stripe(0, WORLD_SIZE)}


@contextlib.contextmanager
def _count_stats():
    """Every os.stat while the block runs (a metadata-server round trip each on a parallel file system)."""
    calls: list[str] = []
    real = os.stat

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    os.stat = counting
    try:
        yield calls
    finally:
        os.stat = real


def _count_manifest_reads() -> list[str]:
    import train.data.datasets as datasets_module

    reads: list[str] = []
    real = datasets_module.load_manifest

    def counting(path: str):
        reads.append(path)
        return real(path)

    datasets_module.load_manifest = counting
    return reads


def startup(data: str, run_dir: str) -> dict:
    """What ``train.loop`` does on one rank before its first step, minus model and DeepSpeed."""
    from train.data import build_train_data, build_val_batches, data_info
    from train.objectives.build import run_objective

    reads, marks = _count_manifest_reads(), {"start": time.perf_counter()}
    cfg = _train_cfg(data, run_dir)
    marks["config"] = time.perf_counter()
    with _count_stats() as stats:
        info = data_info(cfg, **_rank_stripe(data_info))  # as train.loop.run_training calls it
    objective = run_objective(cfg, info)
    marks["data_info"] = time.perf_counter()
    train = build_train_data(cfg, 0, WORLD_SIZE, objective, **_with_info(build_train_data, info))
    build_val_batches(cfg, 0, WORLD_SIZE, objective, **_with_info(build_val_batches, info))
    marks["train_data"] = time.perf_counter()
    plan = [p for micro, _ in train._plan_global_batch() for p in micro]
    ranges = [train.readers[p.dataset]._byte_range(p.slot, train.readers[p.dataset]._fd(p.slot), p.index)
              for p in plan]
    marks["first_batch"] = time.perf_counter()
    opened = [len(r.loaded_indexes()) for r in train.readers if hasattr(r, "loaded_indexes")]  # format-2 code
    state = train.state_dict()
    state["datasets"][0]["consumed"] = state["global_samples"] = train.orders[0].samples_per_epoch * 5 // 2
    train.load_state_dict(state)
    resumed = [p for micro, _ in train._plan_global_batch() for p in micro]
    marks["resume"] = time.perf_counter()
    train.close()
    steps = list(marks)
    timings = {f"{b}_s": round(marks[b] - marks[a], 4) for a, b in zip(steps, steps[1:])}
    return {"seconds": round(marks["resume"] - marks["start"], 4), **timings, "manifest_reads": len(reads),
            "stats": len(stats),
            "first_batch_rows": len(plan), "resume_rows": len(resumed),
            "first_range_bytes": ranges[0][1] - ranges[0][0], "indexes_opened": sum(opened) if opened else None}


def measure_one(samples: int, workdir: str, fmt: int, code_root: str, keep: bool) -> dict:
    """Runs in the process whose peak RSS is reported: data generated by a child, then the start-up here."""
    data = os.path.join(workdir, f"startup_v{fmt}_{samples}")
    command = [sys.executable, os.path.abspath(__file__), "--generate", str(samples), "--workdir", workdir,
               "--format", str(fmt)]
    generated = json.loads(subprocess.run(command, check=True, capture_output=True, text=True,
                                          env={**os.environ, "PYTHONPATH": REPO}).stdout.strip().splitlines()[-1])
    sys.path.insert(0, code_root)
    imports_start = time.perf_counter()
    import train.data  # noqa: F401 - torch and the loader: a rank pays this whatever the data size
    import train.objectives.build  # noqa: F401

    imports_s, rss_imports = time.perf_counter() - imports_start, _rss_hwm_mb()
    try:
        row = startup(data, os.path.join(workdir, "run"))
    finally:
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"part": "startup", "size": samples, "shards": generated["shards"], **row,
            "peak_rss_mb": round(peak, 1), "rss_imports_mb": round(rss_imports, 1),
            "rss_growth_mb": round(peak - rss_imports, 1), "manifest_bytes": generated["manifest_bytes"],
            "manifest_bytes_per_1e6_samples": round(generated["manifest_bytes"] * 1e6 / samples),
            "index_bytes": generated["index_bytes"], "format": fmt, "imports_s": round(imports_s, 2),
            "generate_s": generated["generate_s"], "code": os.path.abspath(code_root)}


def run_startup(sizes: list[int], workdir: str, fmt: int = 2, code_root: str = REPO) -> list[dict]:
    """One row per size, each measured in a fresh ``--one`` process (see the module docstring)."""
    rows = []
    for samples in sizes:
        command = [sys.executable, os.path.abspath(__file__), "--one", str(samples), "--workdir", workdir,
                   "--format", str(fmt), "--code-root", code_root]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def print_table(rows: list[dict]) -> None:
    columns = ["format", "size", "shards", "manifest_bytes", "manifest_reads", "stats", "indexes_opened", "data_info_s",
               "train_data_s", "first_batch_s", "seconds", "peak_rss_mb", "rss_growth_mb"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row.get(c)) for c in columns))
    for before, after in zip(rows, rows[1:]):
        if after["size"] > before["size"] and after["format"] == before["format"]:
            grow = after["size"] / before["size"]
            print(f"x{grow:g} samples -> x{after['seconds'] / before['seconds']:.2f} time, "
                  f"x{after['rss_growth_mb'] / max(before['rss_growth_mb'], 0.1):.2f} memory growth, "
                  f"x{after['peak_rss_mb'] / before['peak_rss_mb']:.2f} peak RSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=[10**6, 10**7, 10**8], help="e.g. 1e6,1e7,1e8")
    parser.add_argument("--workdir", help="where the simulated datasets go (default: a temp dir, removed)")
    parser.add_argument("--format", type=int, default=2, choices=(1, 2), help="manifest format to simulate")
    parser.add_argument("--code-root", default=REPO, help="checkout whose train/ code is measured")
    parser.add_argument("--keep", action="store_true", help="keep the simulated dataset of --one")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        root = os.path.join(args.workdir, f"startup_v{args.format}_{args.generate}")
        shutil.rmtree(root, ignore_errors=True)
        print(json.dumps(generate(root, args.generate, args.format)))
    elif args.one is not None:
        print(json.dumps(measure_one(args.one, args.workdir, args.format, args.code_root, args.keep)))
    else:
        import tempfile

        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            rows = run_startup(args.sizes, tmp, args.format, args.code_root)
        for row in rows:
            print(json.dumps(row))
        print_table(rows)


if __name__ == "__main__":
    main()
