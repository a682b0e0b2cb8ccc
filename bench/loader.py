"""Benchmark the training loader alone (no model): samples/s per rank, and time to the first batch.

    python bench/loader.py                       # synthetic shards (seq_len 2048) in a temp dir
    python bench/loader.py --data DIR            # a real data_prep output directory

Prints one JSON line per measurement. Time to first batch is measured in a fresh process (interpreter
start → first batch) at position 0 and deep into the data (several epochs in): with seek-by-offset
resume it should be flat and well under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_synthetic(out: str, shards: int, samples_per_shard: int, seq_len: int, vocab: int) -> str:
    """A prepared directory written by data_prep's own shard writer (random tokens, no tokenizer training)."""
    import hashlib

    import numpy as np

    from data_prep.output.shards import write_shard
    from openpretrain.manifest import FORMAT_VERSION, TOKENIZER_NAME, Manifest, TokenizerInfo, token_dtype_for

    dtype = token_dtype_for(vocab)
    rng = np.random.default_rng(0)
    tokenizer = b'{"synthetic": true}'
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, TOKENIZER_NAME), "wb") as fh:
        fh.write(tokenizer)
    infos = []
    for i in range(shards):
        samples = [(rng.integers(0, vocab, seq_len + 1).astype(dtype),
                    {"doc_starts": [0], "doc_ids": [f"doc{i}_{j}"], "sources": ["synthetic"]})
                   for j in range(samples_per_shard)]
        infos.append(write_shard(out, "train", i, samples))
    Manifest(format_version=FORMAT_VERSION, seq_len=seq_len, token_dtype=dtype,
             tokenizer=TokenizerInfo(TOKENIZER_NAME, vocab, 0, None, hashlib.sha256(tokenizer).hexdigest()),
             shards=infos).write(out)
    return out


def make_cfg(data: str, micro: int, workers: int, run_dir: str):
    from hydra import compose, initialize_config_dir

    from openpretrain.cli import CONFIG_PATH, to_object
    from train.config import register

    register()  # defaults live in conf/: compose them as `python -m train` does
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return to_object(compose("train", overrides=[f"run_dir={run_dir}", f"micro_batch_size={micro}",
                                                     f"data.path={data}", f"data.num_workers={workers}"]))


def throughput(args: argparse.Namespace, workers: int) -> dict:
    from train.data import build_train_data

    cfg = make_cfg(args.data, args.micro, workers, args.run_dir)
    with build_train_data(cfg, args.rank, args.world_size) as data:
        next(data)  # warm: open shards, start threads
        start = time.perf_counter()
        for _ in range(args.batches):
            next(data)
        elapsed = time.perf_counter() - start
    samples = args.batches * args.micro
    return {"measure": "throughput", "num_workers": workers, "samples_per_s": round(samples / elapsed, 1),
            "tokens_per_s": round(samples * cfg_seq_len(args.data) / elapsed), "rank": args.rank,
            "world_size": args.world_size}


def cfg_seq_len(data: str) -> int:
    from openpretrain.manifest import load_manifest

    return load_manifest(data).seq_len


def first_batch_child(args: argparse.Namespace) -> None:
    """Runs in a fresh process: build the loader, seek to --position, read one batch; report timings."""
    from train.data import build_train_data

    imported = time.perf_counter()
    cfg = make_cfg(args.data, args.micro, 2, args.run_dir)
    data = build_train_data(cfg, args.rank, args.world_size)
    state = data.state_dict()
    state["datasets"][0]["consumed"] = args.position
    state["global_samples"] = args.position
    data.load_state_dict(state)
    batch = next(data)
    done = time.perf_counter()
    data.close()
    print(json.dumps({"measure": "first_batch", "position": args.position,
                      "epoch": round(args.position / state["datasets"][0]["samples_per_epoch"], 2),
                      "first_id": batch.sample_ids[0], "imports_s": round(imported - PROCESS_START, 3),
                      "loader_s": round(done - imported, 3), "in_process_s": round(done - PROCESS_START, 3)}))


def first_batch(args: argparse.Namespace, position: int) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", "--position", str(position),
               "--data", args.data, "--micro", str(args.micro), "--rank", str(args.rank),
               "--world-size", str(args.world_size), "--run-dir", args.run_dir]
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = round(wall, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="prepared directory (default: synthetic shards in a temp dir)")
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--samples-per-shard", type=int, default=1024)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4])
    parser.add_argument("--rank", type=int, default=0)
    parser.add_argument("--world-size", type=int, default=1)
    parser.add_argument("--run-dir", default=tempfile.gettempdir())
    parser.add_argument("--position", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        first_batch_child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.data is None:
            start = time.perf_counter()
            args.data = make_synthetic(os.path.join(tmp, "synthetic"), args.shards, args.samples_per_shard,
                                       args.seq_len, args.vocab)
            print(json.dumps({"measure": "synthetic_data", "samples": args.shards * args.samples_per_shard,
                              "seq_len": args.seq_len, "write_s": round(time.perf_counter() - start, 2)}))
        for workers in args.workers:
            print(json.dumps(throughput(args, workers)), flush=True)
        per_epoch = sum(s.samples for s in _train_shards(args.data))
        for position in (0, per_epoch // 2, 7 * per_epoch + per_epoch * 9 // 10, 1000 * per_epoch + 12345):
            print(json.dumps(first_batch(args, position)), flush=True)


def _train_shards(data: str) -> list:
    from openpretrain.manifest import load_manifest

    return load_manifest(data).shards_for("train")


if __name__ == "__main__":
    main()
