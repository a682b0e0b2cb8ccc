"""Continued pretraining from a Hugging Face folder, end to end on CPU (issue 17's demo).

    python bench/continued_pretraining.py --work runs/cpt           # ~10 min on 2 CPU cores

1. base: a tiny Llama trained from scratch on the embedded corpus (``--base-steps``), exported with
   ``train.export`` -> an HF ``LlamaForCausalLM`` folder (the "open model" we continue from);
2. the corpus prepared again with that model's own tokenizer (``tokenizer=hf tokenizer.path=HF_DIR``);
3. ``train.evaluate checkpoint=HF_DIR``: the folder's val loss, straight from the HF files;
4. continued: ``model.init_from=HF_DIR``, ``--steps`` steps; and the same steps from random weights.

Prints the two loss curves side by side and one JSON summary line (also written to WORK/summary.json):
the continued run must start where the base model ended, not at the random model's ln(vocab).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu"), "WANDB_MODE": "offline",
       "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "TOKENIZERS_PARALLELISM": "false"}


def run(*argv: str) -> str:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *argv], cwd=REPO, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(f"  {time.perf_counter() - start:6.1f}s  {' '.join(argv[:3])} ...", file=sys.stderr, flush=True)
    return proc.stdout


def train(nproc: int, *overrides: str) -> None:
    run("-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "train", *overrides)


def curve(run_dir: str) -> dict[int, dict]:
    records: dict[int, dict] = {}
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if "step" in record and ("loss" in record or "val_loss" in record):
                records.setdefault(record["step"], {}).update(record)
    return records


def vocab_size(data_dir: str) -> int:
    with open(os.path.join(data_dir, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)["tokenizer"]["vocab_size"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/cpt")
    parser.add_argument("--base-steps", type=int, default=150)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--deepspeed", default="zero2")
    args = parser.parse_args()
    work = os.path.abspath(args.work)
    base_data, data, hf = f"{work}/data_base", f"{work}/data_hf_tok", f"{work}/base_hf"
    common = ["seq_len=128", "micro_batch_size=8", "log_every=5", "eval_batches=4", "logger.mode=offline",
              f"deepspeed={args.deepspeed}"]

    if not os.path.isdir(hf):  # a rerun reuses the base model
        print("1. base model: from scratch, then exported to a Hugging Face folder", file=sys.stderr)
        run("-m", "data_prep", f"out_dir={base_data}", "seq_len=128", "tokenizer.vocab_size=4096", "progress=false")
        train(args.nproc, f"data.path={base_data}", f"run_dir={work}/base", f"max_steps={args.base_steps}",
              f"eval_every={args.base_steps}", f"checkpoint_every={args.base_steps}", *common)
        run("-m", "train.export", f"checkpoint={work}/base", f"out={hf}")

    print("2. the corpus tokenized with the HF folder's own tokenizer", file=sys.stderr)
    run("-m", "data_prep", f"out_dir={data}", "seq_len=128", "tokenizer=hf", f"tokenizer.path={hf}",
        "progress=false")

    print("3. evaluate the HF folder itself", file=sys.stderr)
    evaluated = json.loads(run("-m", "train.evaluate", f"checkpoint={hf}", f"data.path={data}", "batch_size=8",
                               "max_batches=4").strip().splitlines()[-1])

    print(f"4. {args.steps} steps: continued from the HF folder, and from random weights", file=sys.stderr)
    schedule = [f"max_steps={args.steps}", f"eval_every={args.steps // 2}", f"checkpoint_every={args.steps}",
                "optim.lr=1e-3", "optim.warmup_steps=5", *common]
    started = time.perf_counter()
    train(args.nproc, f"data.path={data}", f"run_dir={work}/continued", f"model.init_from={hf}", *schedule)
    continued_s = time.perf_counter() - started
    train(args.nproc, f"data.path={data}", f"run_dir={work}/scratch", *schedule)

    report(args, work, data, evaluated, continued_s)

def print_curves(base: dict, cont: dict, scratch: dict, base_steps: int) -> None:
    print(f"\n{'step':>5} {'scratch loss':>13} {'continued loss':>15}   (base ended at "
          f"{base[base_steps]['loss']:.4f}, val {base[base_steps].get('val_loss', float('nan')):.4f})")
    for step in sorted(set(cont) | set(scratch)):
        row = [scratch.get(step, {}).get("loss"), cont.get(step, {}).get("loss")]
        vals = [scratch.get(step, {}).get("val_loss"), cont.get(step, {}).get("val_loss")]
        text = " ".join(f"{v:>13.4f}" if v is not None else f"{'':>13}" for v in row)
        extra = f"   val {vals[0]:.4f} / {vals[1]:.4f}" if None not in vals else ""
        print(f"{step:>5} {text}{extra}")


def report(args: argparse.Namespace, work: str, data: str, evaluated: dict, continued_s: float) -> None:
    """The two curves side by side, and one JSON summary line (also WORK/summary.json)."""
    base, cont, scratch = curve(f"{work}/base"), curve(f"{work}/continued"), curve(f"{work}/scratch")
    print_curves(base, cont, scratch, args.base_steps)
    last = max(cont)
    summary = {
        "base_steps": args.base_steps, "steps": args.steps, "ranks": args.nproc, "deepspeed": args.deepspeed,
        "ln_vocab": round(math.log(vocab_size(data)), 4),  # a random model's loss
        "base_final_loss": base[args.base_steps]["loss"], "base_final_val_loss": base[args.base_steps].get("val_loss"),
        "hf_folder_val_loss": evaluated["loss"],
        "scratch_first_loss": scratch[min(scratch)]["loss"], "continued_first_loss": cont[min(cont)]["loss"],
        "scratch_final_loss": scratch[last]["loss"], "continued_final_loss": cont[last]["loss"],
        "scratch_final_val_loss": scratch[last].get("val_loss"), "continued_final_val_loss": cont[last].get("val_loss"),
        "continued_wall_s": round(continued_s, 1),
        "continued_curve": {step: round(r["loss"], 4) for step, r in sorted(cont.items()) if "loss" in r},
        "scratch_curve": {step: round(r["loss"], 4) for step, r in sorted(scratch.items()) if "loss" in r},
    }
    with open(os.path.join(work, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
