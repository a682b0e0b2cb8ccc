"""A tiny real dataset and the `python -m launch job=loop` command line the loop tests (and the
measurement in docs/loop.md) run: embedded word-soup corpus, a 0.1M-parameter model, CPU, one rank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.data_prep.synthetic_helpers import prepare_local, real_texts, write_jsonl

MODEL = ["model.dim=64", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2", "model.ffn_dim=128",
         "model.max_seq_len=128"]
TRAIN = ["micro_batch_size=8", "eval_every=1000", "eval_batches=1", "logger.mode=disabled", "data.num_workers=0",
         "optim.warmup_steps=2", "optim.lr=3e-3", "keep_checkpoints=10", *MODEL]
# A 20-step model writes near-junk: keep the upper side of the perplexity band open so that some documents
# reach the shards, and train the discriminator (keeping everything) so its accuracy is reported.
SYNTHETIC = ["source.max_new_tokens=64", "source.min_new_tokens=40", "source.batch_size=16", "pipeline.min_chars=32",
             "pipeline.ppl.high_quantile=1.0", "pipeline.discriminator.enabled=true",
             "pipeline.discriminator.min_real_prob=0"]


def prepare_real(out_dir: Path, docs: int = 120, *overrides: str) -> Path:
    """The real dataset: word soup documents, 32-token samples, a val split for evaluation and control."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    prepare_local(out_dir, write_jsonl(out_dir.parent / f"{out_dir.name}.jsonl", real_texts(docs)),
                  "val_fraction=0.2", *overrides)
    return out_dir


def loop_argv(loop_dir: Path, real: Path, *loop_overrides: str, rounds: int = 2, docs: int = 24, steps: int = 20,
              train: tuple[str, ...] = ()) -> list[str]:
    synthetic = "[" + ",".join(f"'{o}'" for o in SYNTHETIC) + "]"
    return [sys.executable, "-m", "launch", "job=loop", f"loop.dir={loop_dir}", f"loop.real_data={real}",
            f"loop.rounds={rounds}", f"loop.docs_per_round={docs}", f"loop.steps_per_round={steps}",
            "loop.max_synthetic_share=0.2", f"loop.synthetic_overrides={synthetic}", "loop.eval.num_prompts=8",
            "loop.eval.max_new_tokens=24", "loop.memorization.num_sequences=8", "loop.memorization.prefix_tokens=16",
            "loop.memorization.suffix_tokens=16", "loop.wandb.mode=offline", "launch.tee=0", "launch.redirects=0",
            *loop_overrides, "--", *TRAIN, *train]


def loop_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DS_ACCELERATOR": "cpu", "WANDB_MODE": "offline",
            "OMP_NUM_THREADS": "1"}


def run_loop(argv: list[str], timeout: float = 900, check: bool = True,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=env or loop_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"loop failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc
