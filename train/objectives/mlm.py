"""Masked language modelling (Devlin et al. 2019): BERT's 80/10/10 corruption of a row.

Each ordinary token (never EOS/BOS or another special token) is selected with probability
``probability``; a selected token is replaced by the mask token with probability ``mask_rate``, by a
uniformly random ordinary token with probability ``random_rate``, and left unchanged otherwise. The
target is the original token at selected positions and the ignore index everywhere else, so the loss
counts selected positions only. The model reads the row with bidirectional attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MaskingRule:
    probability: float
    mask_rate: float
    random_rate: float
    mask_id: int
    special_ids: tuple[int, ...]  # never selected, never drawn as the random replacement
    vocab_size: int  # the tokenizer's (unpadded) vocabulary


def ordinary_ids(rule: MaskingRule) -> np.ndarray:
    return np.setdiff1d(np.arange(rule.vocab_size, dtype=np.int64), np.asarray(rule.special_ids, dtype=np.int64))


def mask_row(tokens: np.ndarray, rng: np.random.Generator, rule: MaskingRule, ordinary: np.ndarray,
             ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """(corrupted inputs, targets) for one row of token ids."""
    tokens = tokens.astype(np.int64, copy=False)
    n = len(tokens)
    # Fixed draws per row (selection, action, replacement), whatever the outcome: easy to reason about.
    select_u, action_u, replacement = rng.random(n), rng.random(n), rng.integers(0, len(ordinary), n)
    selected = (select_u < rule.probability) & ~np.isin(tokens, rule.special_ids)
    to_mask = selected & (action_u < rule.mask_rate)
    to_random = selected & (action_u >= rule.mask_rate) & (action_u < rule.mask_rate + rule.random_rate)
    inputs = tokens.copy()
    inputs[to_mask] = rule.mask_id
    inputs[to_random] = ordinary[replacement[to_random]]
    targets = np.full(n, ignore_index, dtype=np.int64)
    targets[selected] = tokens[selected]
    return inputs, targets
