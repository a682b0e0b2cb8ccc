"""Train tokens/s of objective=fim and objective=mlm against clm: the same model, data and machine.

    python bench/objectives.py                                  # embedded corpus, seq 256, tiny model, CPU
    python bench/objectives.py --data DIR --nproc 2 --steps 60  # a prepared dir with objective tokens

Each objective trains with the real ``python -m train`` (DeepSpeed, the loader with its reader threads,
the objective's row transform, metrics) for ``--steps`` steps; runs are interleaved (clm, fim, mlm, clm,
...) ``--repeats`` times so that machine load drifts hit every objective alike, and the median of the
logged ``tokens_per_s`` (first report dropped: warm-up) is compared. The loader-side transform alone
(rows/s of ``make_rows``, one thread) is measured too: it runs in the reader threads, off the step's
critical path unless the CPU is saturated. On a shared machine wall-clock rates swing with the load, so
the same step (row transform + forward + backward + AdamW on ``train.model.Transformer``, one process) is
also timed in CPU seconds, objectives interleaved step by step: the load-independent ratio.
Prints one JSON line per measurement, then the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
OBJECTIVES = ("clm", "fim", "mlm")


def prepare(out: str, seq_len: int) -> str:
    subprocess.run([sys.executable, "-m", "data_prep", f"out_dir={out}", f"seq_len={seq_len}", "max_docs=2000",
                    "tokenizer.vocab_size=4096", "progress=false", "tokenizer.objective_tokens=[fim,mlm]"],
                   cwd=ROOT, check=True, capture_output=True)
    return out


def train_tokens_per_s(data: str, objective: str, args: argparse.Namespace, run_dir: str) -> float:
    launcher = [sys.executable, "-m", "train"] if args.nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}", "-m", "train"]
    cmd = [*launcher, f"data.path={data}", f"run_dir={run_dir}", f"objective={objective}", f"model={args.model}",
           f"max_steps={args.steps}", f"micro_batch_size={args.micro}", f"log_every={args.log_every}",
           "eval_every=100000", "eval_batches=0", f"checkpoint_every={args.steps}", "logger.mode=disabled"]
    env = {**os.environ, "PYTHONPATH": ROOT, "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu")}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as fh:
        rates = [r["tokens_per_s"] for r in map(json.loads, fh) if "tokens_per_s" in r]
    return statistics.median(rates[1:] or rates)


def _assembler(data: str, objective: str):
    """(BatchAssembler with the objective's rows, the objective, DataInfo, TrainConfig) for one prepared dir."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from train.config import register
    from train.data import data_info
    from train.data.batches import BatchAssembler
    from train.data.reader import SampleReader
    from train.objectives.build import run_objective

    register()
    with initialize_config_dir(config_dir=os.path.join(ROOT, "conf"), version_base="1.3"):
        raw = compose("train", [f"data.path={data}", "run_dir=unused", f"objective={objective}"])
    cfg = OmegaConf.to_object(raw)
    info = data_info(cfg)
    dataset = info.datasets[0]
    reader = SampleReader(dataset, "train", False)
    objective = run_objective(cfg, info)
    return BatchAssembler([dataset], [reader], info.seq_len, info.eos_id, objective), objective, info, cfg


def transform_rows_per_s(data: str, objective: str, seconds: float = 2.0) -> float:
    import numpy as np

    from train.data.batches import PlannedSample

    assembler, _, info, _ = _assembler(data, objective)
    reader = assembler.readers[0]
    rows = [reader.read(0, i) for i in range(min(64, reader.shards[0].samples))]
    table = np.stack([r[0] for r in rows]).astype(np.int64)
    ids = [assembler.sample_id(PlannedSample(0, 0, i, i)) for i in range(len(rows))]
    starts = [list(r[1]) for r in rows]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        assembler.make_rows(table, ids, starts)
        done += len(table)
    return done / (time.perf_counter() - start)


def step_tokens_per_cpu_s(data: str, args: argparse.Namespace, rounds: int = 30) -> dict[str, float]:
    """Full training steps in this process, objectives interleaved; tokens per CPU second each."""
    import numpy as np
    import torch

    from train.data.batches import PlannedSample

    torch.manual_seed(0)
    setups = {o: _assembler(data, o) for o in OBJECTIVES}
    assembler, _, info, cfg = setups["clm"]
    from train.model import ModelArgs, Transformer, padded_vocab_size

    m = cfg.model
    models = {}
    for o in OBJECTIVES:
        torch.manual_seed(0)
        models[o] = Transformer(ModelArgs(
            dim=m.dim, n_layers=m.n_layers, n_heads=m.n_heads, n_kv_heads=m.n_kv_heads, ffn_dim=m.ffn_dim,
            vocab_size=padded_vocab_size(info.vocab_size, m.pad_vocab_to), max_seq_len=info.seq_len,
            causal=setups[o][1].causal))
    optims = {o: torch.optim.AdamW(models[o].parameters(), lr=1e-3) for o in OBJECTIVES}
    reader = assembler.readers[0]
    n = args.micro
    cpu = {o: 0.0 for o in OBJECTIVES}
    for r in range(rounds + 1):
        idx = [(r * n + i) % reader.shards[0].samples for i in range(n)]
        samples = [reader.read(0, i) for i in idx]
        table = np.stack([s[0][: info.seq_len + 1] for s in samples]).astype(np.int64)
        ids = [assembler.sample_id(PlannedSample(0, 0, i, i)) for i in idx]
        for o in OBJECTIVES:
            objective = setups[o][1]
            start = time.process_time()
            rows = objective.make_rows(table, ids, [list(s[1]) for s in samples])
            loss, _ = objective.loss(models[o], torch.from_numpy(rows.inputs), torch.from_numpy(rows.targets))
            optims[o].zero_grad()
            loss.backward()
            optims[o].step()
            if r:  # round 0 warms up
                cpu[o] += time.process_time() - start
    return {o: rounds * n * info.seq_len / cpu[o] for o in OBJECTIVES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="a data_prep output dir prepared with tokenizer.objective_tokens=[fim,mlm]")
    parser.add_argument("--seq-len", type=int, default=256, help="when preparing the embedded corpus")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--micro", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-runs", action="store_true", help="only the in-process measurements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or prepare(os.path.join(tmp, "data"), args.seq_len)
        transform = {o: transform_rows_per_s(data, o) for o in OBJECTIVES}
        for o in OBJECTIVES:
            print(json.dumps({"measure": "loader_transform_rows_per_s", "objective": o, "value": round(transform[o])}))
        cpu = step_tokens_per_cpu_s(data, args)
        for o in OBJECTIVES:
            print(json.dumps({"measure": "step_tokens_per_cpu_s", "objective": o, "value": round(cpu[o])}))
        train_rates: dict[str, list[float]] = {o: [] for o in OBJECTIVES}
        for r in range(0 if args.skip_runs else args.repeats):
            for o in OBJECTIVES:
                rate = train_tokens_per_s(data, o, args, os.path.join(tmp, f"run_{o}_{r}"))
                train_rates[o].append(rate)
                print(json.dumps({"measure": "train_tokens_per_s", "objective": o, "repeat": r, "value": round(rate)}))
        median = {o: statistics.median(v) if v else None for o, v in train_rates.items()}
        ran = median["clm"] is not None
        print(json.dumps({
            "summary": "train tokens/s relative to clm (same run, medians)",
            "model": args.model, "nproc": args.nproc, "micro_batch_size": args.micro, "steps": args.steps,
            "clm_tokens_per_s": round(median["clm"]) if ran else None,
            "fim_over_clm": round(median["fim"] / median["clm"], 3) if ran else None,
            "mlm_over_clm": round(median["mlm"] / median["clm"], 3) if ran else None,
            "cpu_time_fim_over_clm": round(cpu["fim"] / cpu["clm"], 3),
            "cpu_time_mlm_over_clm": round(cpu["mlm"] / cpu["clm"], 3),
            "loader_transform_rows_per_s": {o: round(v) for o, v in transform.items()},
        }))


if __name__ == "__main__":
    main()
