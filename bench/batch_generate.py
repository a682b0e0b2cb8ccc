"""Throughput of train.batch_generate by batch size, and whether the documents are batch-size independent.

A random model (sizes below) samples ``--prompts`` prompts of random lengths (4..32 tokens) for
``--new-tokens`` tokens each, at batch sizes 1, 16 and 64; one line per batch size with new tokens/s, then
whether every batch size gave the same documents (the determinism contract of train.batch_generate).

    python bench/batch_generate.py                 # GPU if present
    python bench/batch_generate.py --cpu --dim 256 --layers 4 --vocab 8192
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from train.batch_generate import SamplingParams, default_device, generate_batch  # noqa: E402
from train.model import ModelArgs, Transformer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    device = torch.device("cpu") if args.cpu else default_device()
    torch.manual_seed(0)
    model = Transformer(ModelArgs(dim=args.dim, n_layers=args.layers, n_heads=args.dim // 64,
                                  n_kv_heads=max(1, args.dim // 256), ffn_dim=args.dim * 11 // 4,
                                  vocab_size=args.vocab, max_seq_len=256)).to(device).eval()
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(4, 33, (args.prompts,), generator=gen).tolist()
    prompts = [torch.randint(0, args.vocab, (n,), generator=gen).tolist() for n in lengths]
    params = SamplingParams(temperature=0.8, top_k=50, top_p=0.95, max_new_tokens=args.new_tokens, seed=1)
    outputs = []
    for batch_size in (1, 16, 64):
        start = time.perf_counter()
        out = generate_batch(model, prompts, params, batch_size=batch_size)
        seconds = time.perf_counter() - start
        outputs.append(out)
        print(f"device={device.type} batch_size={batch_size}: {sum(map(len, out)) / seconds:,.0f} new tokens/s "
              f"({seconds:.1f} s)", flush=True)
    differing = sum(a != b for a, b in zip(outputs[0], outputs[-1]))
    print(f"documents differing between batch_size 1 and 64: {differing} of {len(prompts)}")


if __name__ == "__main__":
    main()
