"""Tiny in-process models for the loop's unit tests (random or overfit in a few hundred CPU steps)."""

from __future__ import annotations

import torch

from train.model import ModelArgs, Transformer

VOCAB = 64


def tiny_model(seed: int = 0, vocab: int = VOCAB, max_seq_len: int = 96, dim: int = 32,
               init_std: float = 0.2) -> Transformer:
    torch.manual_seed(seed)
    # A larger init spreads the logits so that random greedy decoding does not sit on near-ties.
    args = ModelArgs(dim=dim, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=2 * dim, vocab_size=vocab,
                     max_seq_len=max_seq_len, init_std=init_std)
    return Transformer(args).eval()


def overfit(model: Transformer, sequences: list[list[int]], steps: int = 300, lr: float = 1e-2) -> Transformer:
    """Train ``model`` on ``sequences`` (all the same length) until it has memorised them."""
    data = torch.tensor(sequences, dtype=torch.long)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        loss = model(data[:, :-1], targets=data[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()
