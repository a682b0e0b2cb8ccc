"""Collapse monitor: diversity of generations, their tail mass and their perplexity.

Collapse shows first in diversity (distinct-n and type-token ratio fall) and in the tails (rare tokens
vanish; Shumailov et al. 2024), before real-data loss moves much. All metrics work on sequences of any
hashable units: token ids from the tokenizer, or words from ``words(texts)``.

- ``distinct_n``: unique n-grams / all n-grams, pooled over the whole set of generations (Li et al. 2016),
  so it measures the diversity of the set, not of each document alone.
- ``type_token_ratio``: distinct_n with n = 1 by another name; kept for the report's vocabulary.
- ``tail_mass``: the share of generated tokens that are *rare in the real data*. The rare set is defined
  on the real token counts: order token types from least to most frequent and take the least frequent
  ones until they cover ``tail_quantile`` of all real tokens (types tied at that count are all included),
  plus every type the real data never contains. On the real data itself this share is therefore
  ``tail_quantile`` (a little more with ties; ``TailSet.real_mass`` is the exact value) — a generation set
  far below it has lost the tails.
- ``perplexity_stats``: mean and quantiles of per-document perplexity exp(mean token loss in nats).
- ``generation_metrics``: all of the above for one round's fixed generations (fixed prompts and seed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from train.batch_generate import SamplingParams, generate_batch
from train.model import Transformer


def words(texts: Iterable[str]) -> list[list[str]]:
    """Whitespace words, lower-cased: the unit for text-level distinct-n."""
    return [text.lower().split() for text in texts]


def distinct_n(sequences: Iterable[Sequence[Hashable]], n: int) -> float:
    """Unique n-grams over all n-grams in all sequences (0.0 when there is no n-gram at all)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    total, unique = 0, set()
    for seq in sequences:
        grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
        total += len(grams)
        unique.update(grams)
    return len(unique) / total if total else 0.0


def type_token_ratio(sequences: Iterable[Sequence[Hashable]]) -> float:
    return distinct_n(sequences, 1)


@dataclass(frozen=True)
class TailSet:
    rare: frozenset  # token types that are rare in the real data
    threshold_count: int  # a seen type is rare when its real count is <= this
    real_mass: float  # share of real tokens in rare types (>= tail_quantile because of ties)
    seen: frozenset  # every type the real data contains

    def is_rare(self, token: Hashable) -> bool:
        return token in self.rare or token not in self.seen


def rare_tokens(real_counts: Mapping[Hashable, int], tail_quantile: float = 0.1) -> TailSet:
    """The rare set of the real data: the least frequent types covering ``tail_quantile`` of its tokens."""
    if not 0 < tail_quantile < 1:
        raise ValueError(f"tail_quantile must be in (0, 1), got {tail_quantile}")
    counts = {t: c for t, c in real_counts.items() if c > 0}
    total = sum(counts.values())
    if total == 0:
        raise ValueError("the real token counts are empty")
    cumulative, threshold = 0, 0
    for count in sorted(counts.values()):
        if cumulative >= tail_quantile * total:
            break
        cumulative += count
        threshold = count
    rare = frozenset(t for t, c in counts.items() if c <= threshold)
    real_mass = sum(counts[t] for t in rare) / total
    return TailSet(rare, threshold, real_mass, frozenset(counts))


def tail_mass(sequences: Iterable[Sequence[Hashable]], tail: TailSet) -> float:
    """Share of generated tokens that are rare in the real data (unseen types count as rare)."""
    total = rare = 0
    for seq in sequences:
        total += len(seq)
        rare += sum(tail.is_rare(t) for t in seq)
    return rare / total if total else 0.0


def token_counts(sequences: Iterable[Sequence[Hashable]]) -> Counter:
    counts: Counter = Counter()
    for seq in sequences:
        counts.update(seq)
    return counts


def perplexity_stats(doc_losses: Sequence[float], quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> dict:
    """Mean and quantiles of per-document perplexity, from per-document mean losses in nats/token."""
    if not doc_losses:
        raise ValueError("no document losses")
    ppl = np.exp(np.asarray(doc_losses, dtype=np.float64))
    stats = {"ppl_mean": float(ppl.mean())}
    for q in quantiles:
        stats[f"ppl_p{round(q * 100)}"] = float(np.quantile(ppl, q))
    return stats


def document_losses(model: Transformer, sequences: Sequence[Sequence[int]], batch_size: int = 16,
                    score_from: Sequence[int] | None = None) -> list[float]:
    """Mean next-token loss (nats) of each sequence under ``model``.

    ``score_from[i]``: the first position of sequence i whose prediction counts (>= 1; e.g. its prompt
    length, to score only what was generated); default 1, the whole sequence. Sequences are batched by
    equal length so no padding enters the computation.
    """
    starts = list(score_from) if score_from is not None else [1] * len(sequences)
    by_length: dict[int, list[int]] = {}
    for i, seq in enumerate(sequences):
        if not 1 <= starts[i] < len(seq):
            raise ValueError(f"sequence {i}: {len(seq)} tokens, scored from position {starts[i]}; "
                             "needs at least one scored token after the first")
        by_length.setdefault(len(seq), []).append(i)
    device = model.embed_tokens.weight.device
    losses = [0.0] * len(sequences)
    with torch.inference_mode():
        for length, members in by_length.items():
            for start in range(0, len(members), batch_size):
                chunk = members[start : start + batch_size]
                ids = torch.tensor([list(sequences[i]) for i in chunk], dtype=torch.long, device=device)
                per_token = torch.nn.functional.cross_entropy(
                    model(ids[:, :-1]).float().transpose(1, 2), ids[:, 1:], reduction="none")
                # Target t is token t + 1: position p is scored when p >= score_from.
                first = torch.tensor([starts[i] - 1 for i in chunk], device=device)
                scored = torch.arange(length - 1, device=device)[None, :] >= first[:, None]
                means = (per_token * scored).sum(dim=1) / scored.sum(dim=1)
                for i, value in zip(chunk, means.tolist()):
                    losses[i] = value
    return losses


def generation_metrics(model: Transformer, prompts: Sequence[Sequence[int]], params: SamplingParams,
                       tail: TailSet, *, eos_id: int | None = None, decodable_vocab: int | None = None,
                       batch_size: int = 16, scorer: Transformer | None = None) -> dict[str, float]:
    """The collapse monitor of one round: generate from fixed prompts with a fixed seed, then diversity,
    tail mass and the perplexity of the generated tokens (given their prompt) under ``scorer``
    (default: the generating model)."""
    generated = generate_batch(model, prompts, params, batch_size=batch_size, eos_id=eos_id,
                               decodable_vocab=decodable_vocab)
    losses = document_losses(scorer or model, [[*p, *g] for p, g in zip(prompts, generated)], batch_size,
                             score_from=[len(p) for p in prompts])
    return {**collapse_metrics(generated, tail), **perplexity_stats(losses)}


def collapse_metrics(sequences: Sequence[Sequence[Hashable]], tail: TailSet) -> dict[str, float]:
    """The per-round diversity block of the loop's evaluation."""
    return {
        "distinct_1": distinct_n(sequences, 1),
        "distinct_2": distinct_n(sequences, 2),
        "distinct_3": distinct_n(sequences, 3),
        "type_token_ratio": type_token_ratio(sequences),
        "tail_mass": tail_mass(sequences, tail),
        "real_tail_mass": tail.real_mass,
    }
