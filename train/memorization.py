"""Memorization probe core (Carlini et al. 2023; Biderman et al. 2023, Pythia).

For each token sequence: prompt with its first ``prefix_tokens`` tokens, greedy-decode ``suffix_tokens``
tokens, and compare with the true continuation position by position. A sequence's score is the fraction
of matching positions; it is *memorized* when every position matches. The same measure on sequences the
model never trained on is the control: the gap between the two is the memorization, not the raw rate.

Greedy decoding here never stops at EOS: EOS is an ordinary token of the true continuation.
The CLI (``python -m train.memorization checkpoint=RUN ...``) wraps these functions with checkpoint and
data loading; everything in this module works on a model object and token ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from openpretrain.errors import UserError
from train.batch_generate import SamplingParams, generate_batch
from train.model import Transformer


@dataclass(frozen=True)
class MemorizationResult:
    exact_match_rate: float  # share of sequences whose whole suffix was reproduced
    mean_token_match: float  # mean over sequences of the matching fraction of suffix positions
    num_sequences: int

    def to_dict(self) -> dict[str, float | int]:
        return {"exact_match_rate": self.exact_match_rate, "mean_token_match": self.mean_token_match,
                "num_sequences": self.num_sequences}


def token_match(generated: Sequence[int], truth: Sequence[int]) -> float:
    """Fraction of positions where the greedy continuation equals the true one (missing = mismatch)."""
    if not truth:
        raise ValueError("the true continuation is empty")
    return sum(g == t for g, t in zip(generated, truth)) / len(truth)


def greedy_continuations(model: Transformer, prefixes: Sequence[Sequence[int]], length: int,
                         batch_size: int = 32) -> list[list[int]]:
    """``length`` greedy tokens after each prefix (no EOS stop, no sampling)."""
    return generate_batch(model, prefixes, SamplingParams(max_new_tokens=length), batch_size=batch_size)


def memorization(model: Transformer, sequences: Sequence[Sequence[int]], prefix_tokens: int = 32,
                 suffix_tokens: int = 32, batch_size: int = 32) -> MemorizationResult:
    """Score ``sequences`` (each at least ``prefix_tokens + suffix_tokens`` long; longer ones are cut)."""
    if prefix_tokens < 1 or suffix_tokens < 1:
        raise UserError(f"prefix_tokens and suffix_tokens: must be >= 1, got {prefix_tokens}, {suffix_tokens}")
    if not sequences:
        raise UserError("num_sequences: no sequences to probe")
    need = prefix_tokens + suffix_tokens
    short = [i for i, seq in enumerate(sequences) if len(seq) < need]
    if short:
        raise UserError(f"sequence {short[0]} has {len(sequences[short[0]])} tokens; the probe needs "
                        f"prefix_tokens + suffix_tokens = {need} (use shorter ones or longer sequences)")
    prefixes = [list(seq[:prefix_tokens]) for seq in sequences]
    truths = [list(seq[prefix_tokens:need]) for seq in sequences]
    generated = greedy_continuations(model, prefixes, suffix_tokens, batch_size)
    scores = [token_match(g, t) for g, t in zip(generated, truths)]
    return MemorizationResult(
        exact_match_rate=sum(s == 1.0 for s in scores) / len(scores),
        mean_token_match=sum(scores) / len(scores),
        num_sequences=len(scores),
    )


def probe(model: Transformer, trained: Sequence[Sequence[int]], control: Sequence[Sequence[int]],
          prefix_tokens: int = 32, suffix_tokens: int = 32, batch_size: int = 32) -> dict[str, float | int]:
    """The CLI's JSON object: trained-on sequences and unseen control sequences side by side."""
    seen = memorization(model, trained, prefix_tokens, suffix_tokens, batch_size)
    unseen = memorization(model, control, prefix_tokens, suffix_tokens, batch_size)
    return {
        "exact_match_rate": seen.exact_match_rate,
        "mean_token_match": seen.mean_token_match,
        "control_exact_match_rate": unseen.exact_match_rate,
        "control_mean_token_match": unseen.mean_token_match,
        "num_sequences": seen.num_sequences,
    }


@dataclass(frozen=True)
class CanaryResult:
    canary_id: str
    repeats: int
    completed: bool  # greedy decoding reproduced the whole secret
    token_match: float


def canary_check(model: Transformer, canaries: Sequence[tuple[str, int, Sequence[int], Sequence[int]]],
                 batch_size: int = 32) -> list[CanaryResult]:
    """Does greedy decoding complete each secret from its prefix? ``canaries``: (id, repeats, prefix ids,
    secret ids) — the token ids of the manifest's canary record, tokenized with the run's tokenizer."""
    results = []
    by_length: dict[int, list[int]] = {}
    for i, (_, _, _, secret) in enumerate(canaries):
        by_length.setdefault(len(secret), []).append(i)
    completions: dict[int, list[int]] = {}
    for length, members in by_length.items():
        outs = greedy_continuations(model, [canaries[i][2] for i in members], length, batch_size)
        completions.update(zip(members, outs))
    for i, (canary_id, repeats, _, secret) in enumerate(canaries):
        score = token_match(completions[i], secret)
        results.append(CanaryResult(canary_id, repeats, score == 1.0, score))
    return results


def canary_inputs(records: Sequence[dict], encode: Callable[[str], list[int]],
                  start_ids: Sequence[int] = ()) -> list[tuple[str, int, list[int], list[int]]]:
    """``canary_check``'s input from the manifest's canary records (id, prefix, secret, repeats).

    The whole text is encoded once and split after the prefix's tokens, so the secret's ids are the ones
    training saw (encoding the secret alone could merge differently at the boundary). ``start_ids``: what
    precedes a document in training (the run's BOS, or EOS), as ``train.generate.prompt_ids`` does.
    """
    inputs = []
    for record in records:
        prefix_ids = encode(record["prefix"])
        full_ids = encode(f"{record['prefix']} {record['secret']}")
        if full_ids[: len(prefix_ids)] != prefix_ids or len(full_ids) == len(prefix_ids):
            raise UserError(f"canary {record['id']}: its prefix does not tokenize as a prefix of its text; "
                            "the probe cannot tell where the secret starts")
        inputs.append((record["id"], int(record["repeats"]), [*start_ids, *prefix_ids], full_ids[len(prefix_ids):]))
    return inputs


def canaries_by_repeats(results: Sequence[CanaryResult]) -> dict[int, dict[str, float | int]]:
    """Per repeat count: how many canaries there are and the share the model completes."""
    groups: dict[int, list[CanaryResult]] = {}
    for result in results:
        groups.setdefault(result.repeats, []).append(result)
    return {repeats: {"count": len(group), "completed_rate": sum(r.completed for r in group) / len(group)}
            for repeats, group in sorted(groups.items())}


def sample_positions(samples_seen: int, num_sequences: int, seed: int) -> list[int]:
    """Which already-trained samples to probe: ``num_sequences`` distinct sample indices drawn uniformly
    (seeded) from ``[0, samples_seen)``, the run's data position (Contract 3), sorted for sequential reads.
    Fewer when the run has seen fewer samples."""
    if samples_seen < 0 or num_sequences < 1:
        raise UserError(f"num_sequences: must be >= 1 (and the data position >= 0), got {num_sequences}, "
                        f"{samples_seen}")
    take = min(samples_seen, num_sequences)
    chosen = np.random.default_rng(seed).choice(samples_seen, size=take, replace=False)
    return sorted(int(i) for i in chosen)


if __name__ == "__main__":  # python -m train.memorization: the CLI lives in train.memorization_cli
    from train.memorization_cli import main

    main()
