"""The optimised path through the real DeepSpeed engine (ZeRO-3 on CPU) and the throughput bench's smoke mode."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# Plain and optimised models trained side by side in one process (one process group), same batches.
# ZeRO-3 is the demanding case: with the persistence threshold at 0 every weight, lm_head's included, is
# partitioned, so the chunked loss must run on the gathered weight and hand back full-shape gradients.
GUARD_SCRIPT = r"""
import itertools, json, sys, torch
from types import SimpleNamespace
import bench.train_throughput as bt
from train.engine import build_engine, init_distributed, shutdown_distributed
from train.model_setup import build_model, checked_model_args

env = init_distributed()
losses = {}
for name, overrides in (("plain", ["perf.loss_chunk_size=0", "perf.activation_checkpointing=0"]),
                        ("optimised", ["perf.loss_chunk_size=48", "perf.activation_checkpointing=1"])):
    args = bt.parse_args(["--cpu-smoke", "--deepspeed", "zero3", "optim.warmup_steps=0",
                          "deepspeed.stage3_param_persistence_threshold=0", *overrides])
    cfg = bt.compose_config(args, args.micro_batch)
    torch.manual_seed(cfg.seed)
    engine = build_engine(build_model(checked_model_args(cfg.model, cfg.model.vocab_size, args.seq_len), cfg.perf),
                          cfg, env)
    # One batch again and again: random tokens hold nothing to learn, but a batch can be memorised.
    batches = itertools.repeat(next(bt.synthetic_batches(cfg, args.seq_len, cfg.model.vocab_size, seed=0)))
    step = bt.make_step(engine, batches, env, accum=1, step_sync=True, forward=lambda e, x, y: e(x, targets=y))
    losses[name] = [float(step()) for _ in range(4)]
print("LOSSES " + json.dumps(losses), flush=True)
shutdown_distributed()
"""


def _run(*cmd: str) -> str:
    proc = subprocess.run([sys.executable, *cmd], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_optimised_path_matches_plain_under_zero3() -> None:
    out = _run("-c", GUARD_SCRIPT)
    losses = json.loads(out.split("LOSSES ", 1)[1].splitlines()[0])
    plain, optimised = losses["plain"], losses["optimised"]
    assert plain[-1] < plain[0]
    assert optimised == pytest.approx(plain, rel=1e-4)


@pytest.mark.integration
@pytest.mark.slow  # spawns training subprocesses
def test_throughput_bench_cpu_smoke(tmp_path) -> None:
    out_json = tmp_path / "bench.json"
    out = _run("bench/train_throughput.py", "--cpu-smoke", "--json", str(out_json))
    assert "ours / baseline tokens/s:" in out
    results = json.loads(out_json.read_text())["results"]
    assert [r["name"].split(" ")[0] for r in results] == ["ours", "HF"]
    assert all(r["tokens_per_s"] > 0 and r["final_loss"] > 0 for r in results)
