"""Peak memory and time of the loss head alone (lm_head matmul + cross-entropy, forward + backward).

Compares the plain path (full fp32 logits) with train.perf.linear_cross_entropy at several chunk sizes.
Each variant runs in a fresh subprocess so that CPU peak RSS is its own; on CUDA the allocator's peak is
used. Default shape: TinyLlama's head (d 2048, vocab 32000) on micro-batch 8 x seq 2048 tokens.

    python bench/loss_head.py                      # GPU if present, bf16
    python bench/loss_head.py --cpu --tokens 4096 --dim 256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from train.perf import linear_cross_entropy  # noqa: E402


def run_variant(chunk: int, tokens: int, dim: int, vocab: int, device: str, repeats: int) -> dict:
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(tokens, dim, generator=gen).to(device, dtype).requires_grad_()
    weight = (torch.randn(vocab, dim, generator=gen) * 0.02).to(device, dtype).requires_grad_()
    targets = torch.randint(0, vocab, (tokens,), generator=gen).to(device)

    def step() -> float:
        if chunk == 0:
            logits = hidden @ weight.t()
            loss = F.cross_entropy(logits.float(), targets)
        else:
            loss = linear_cross_entropy(hidden, weight, targets, chunk)
        loss.backward()
        hidden.grad = weight.grad = None
        return loss

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step()  # warm-up (allocator, kernels)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    for _ in range(repeats):
        loss = step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 2**10
    return {"chunk": chunk, "ms": (time.perf_counter() - start) / repeats * 1e3, "peak_extra_mib": peak,
            "loss": float(loss)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=8 * 2048)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--chunks", default="0,8192,4096,2048,1024", help="0 = plain full-logits path")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cpu", action="store_true")
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process: one variant
    args = p.parse_args()
    device = "cpu" if args.cpu or not torch.cuda.is_available() else "cuda"
    if args.one is not None:
        print(json.dumps(run_variant(args.one, args.tokens, args.dim, args.vocab, device, args.repeats)))
        return
    print(f"tokens={args.tokens} dim={args.dim} vocab={args.vocab} device={device} "
          f"({'bf16 matmul, fp32 softmax' if device == 'cuda' else 'fp32'})")
    print(f"{'variant':>12} {'ms/iter':>9} {'peak extra MiB':>15}  loss")
    for chunk in (int(c) for c in args.chunks.split(",")):
        cmd = [sys.executable, __file__, f"--one={chunk}", f"--tokens={args.tokens}", f"--dim={args.dim}",
               f"--vocab={args.vocab}", f"--repeats={args.repeats}", *(["--cpu"] if args.cpu else [])]
        r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        name = "plain" if chunk == 0 else f"chunk {chunk}"
        print(f"{name:>12} {r['ms']:>9.1f} {r['peak_extra_mib']:>15.0f}  {r['loss']:.5f}", flush=True)


if __name__ == "__main__":
    main()
