"""A toy self-feedback loop in one process, built from the loop's blocks, to see what the loop does.

Real data: sequences from a fixed random Markov chain with Zipf-shaped transitions (vocab 64, so there is
a real tail). Round 0 trains a tiny Transformer on it; each later round generates ``--docs`` documents
(train.batch_generate, T=1) from real 4-token prompts, continues training on the capped mix that
launch.loop.mix plans (accumulate or replace), and measures real held-out loss, the collapse monitor
(train.diversity) on fixed prompts and seed, and memorization (train.memorization) of trained-on vs
unseen real sequences. ``--mode synthetic-only`` drops the real data after round 0 (the collapse setting
of Shumailov et al.), for contrast. Prints one table per mode.

    python bench/loop_toy.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from launch.loop.mix import PreparedSet, plan_mix  # noqa: E402
from train.batch_generate import SamplingParams, generate_batch  # noqa: E402
from train.diversity import document_losses, generation_metrics, rare_tokens, token_counts  # noqa: E402
from train.memorization import probe  # noqa: E402
from train.model import ModelArgs, Transformer  # noqa: E402

VOCAB, LENGTH = 64, 32


def markov_corpus(n: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(0)  # the chain itself is fixed; ``seed`` picks the samples
    ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
    transitions = np.stack([rng.permutation(1.0 / ranks**1.1) for _ in range(VOCAB)])
    transitions /= transitions.sum(axis=1, keepdims=True)
    draw = np.random.default_rng(seed)
    seqs = []
    for _ in range(n):
        seq = [int(draw.integers(VOCAB))]
        for _ in range(LENGTH - 1):
            seq.append(int(draw.choice(VOCAB, p=transitions[seq[-1]])))
        seqs.append(seq)
    return seqs


def train(model: Transformer, datasets: list[tuple[list[list[int]], float]], steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    weights = np.array([w for _, w in datasets])
    for _ in range(steps):
        picks = rng.choice(len(datasets), size=32, p=weights / weights.sum())
        batch = [datasets[d][0][rng.integers(len(datasets[d][0]))] for d in picks]
        ids = torch.tensor(batch)
        loss = model(ids[:, :-1], targets=ids[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def run(mode: str, rounds: int, docs: int, steps: int, cap: float, real_docs: int) -> list[dict]:
    real, val = markov_corpus(real_docs, seed=1), markov_corpus(256, seed=2)
    tail = rare_tokens(token_counts(real), 0.1)
    fixed_prompts = [seq[:4] for seq in val[:64]]
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=128, vocab_size=VOCAB,
                                  max_seq_len=64))
    synthetic: list[list[list[int]]] = []
    rows = []
    for r in range(rounds):
        if r == 0:
            mix, share = [(real, 1.0)], 0.0
        else:
            prompts = [real[(r * docs + i) % len(real)][:4] for i in range(docs)]
            out = generate_batch(model, prompts, SamplingParams(temperature=1.0, max_new_tokens=LENGTH - 4, seed=r),
                                 batch_size=64)
            synthetic.append([p + o for p, o in zip(prompts, out)])
            mix, share = _mix(mode, real, synthetic, cap)
        train(model, mix, steps, seed=r)
        monitor = generation_metrics(model, fixed_prompts, SamplingParams(temperature=1.0, max_new_tokens=28,
                                                                          seed=99), tail)
        memo = probe(model, real[:64], val[64:128], prefix_tokens=16, suffix_tokens=16)
        rows.append({"round": r, "real_val_loss": float(np.mean(document_losses(model, val))), "share": share,
                     "distinct_2": monitor["distinct_2"], "tail_mass": monitor["tail_mass"],
                     "ppl_p50": monitor["ppl_p50"], "mem": memo["mean_token_match"],
                     "mem_control": memo["control_mean_token_match"]})
    return rows


def _mix(mode: str, real, synthetic, cap):
    if mode == "synthetic-only":
        return [(synthetic[-1], 1.0)], 1.0
    sets = [PreparedSet(f"s{i}", str(i), len(s) * LENGTH) for i, s in enumerate(synthetic)]
    plan = plan_mix(PreparedSet("real", "real", len(real) * LENGTH), sets, cap, policy=mode)
    data = {"real": real, **{f"s{i}": s for i, s in enumerate(synthetic)}}
    return [(data[e["name"]], e["weight"]) for e in plan], 1.0 - plan[0]["weight"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--docs", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--cap", type=float, default=0.5)
    parser.add_argument("--real-docs", type=int, default=8192)
    parser.add_argument("--modes", default="accumulate,replace,synthetic-only")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        print(f"\nmode={mode} cap={args.cap} real docs={args.real_docs} docs/round={args.docs} steps/round={args.steps}")
        print("round | real val loss | synth share | distinct-2 | tail mass | gen ppl p50 | mem / control")
        for row in run(mode, args.rounds, args.docs, args.steps, args.cap, args.real_docs):
            print(f"{row['round']:5d} | {row['real_val_loss']:13.4f} | {row['share']:11.3f} | {row['distinct_2']:10.4f}"
                  f" | {row['tail_mass']:9.4f} | {row['ppl_p50']:11.2f} | {row['mem']:.3f} / {row['mem_control']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
