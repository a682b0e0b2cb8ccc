"""train.diversity: distinct-n, tail mass, perplexity statistics."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from tests.loop.tiny import tiny_model
from train.diversity import (
    collapse_metrics,
    distinct_n,
    document_losses,
    perplexity_stats,
    rare_tokens,
    tail_mass,
    token_counts,
    words,
)


def test_distinct_n_pools_ngrams_over_the_set():
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 1) == 4 / 6
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 2) == 3 / 4  # (1,2) twice, (2,3), (2,4)
    assert distinct_n([[7, 7, 7, 7]], 2) == 1 / 3
    assert distinct_n([[1]], 2) == 0.0  # no bigram at all
    assert distinct_n(words(["The cat sat", "the cat ran"]), 1) == 4 / 6


def test_collapsed_generations_score_lower_than_diverse_ones():
    g = torch.Generator().manual_seed(0)
    diverse = torch.randint(0, 200, (20, 30), generator=g).tolist()
    collapsed = [[1, 2, 3, 4, 5] * 6 for _ in range(20)]
    counts = token_counts(diverse)
    tail = rare_tokens(counts, 0.1)
    high, low = collapse_metrics(diverse, tail), collapse_metrics(collapsed, tail)
    for key in ("distinct_1", "distinct_2", "distinct_3", "type_token_ratio"):
        assert high[key] > low[key]


def test_rare_set_covers_the_tail_quantile_of_real_tokens():
    real = Counter({"a": 50, "b": 30, "c": 10, "d": 5, "e": 3, "f": 2})  # 100 tokens
    tail = rare_tokens(real, 0.1)
    # least frequent first: f(2) e(3) d(5) reach 10 = 10% of the tokens
    assert tail.rare == {"d", "e", "f"} and tail.threshold_count == 5 and tail.real_mass == 0.10
    assert tail_mass([list("ffeedd")], tail) == 1.0
    assert tail_mass([list("aabbzz")], tail) == pytest.approx(2 / 6)  # z never occurs in real data: rare
    assert tail_mass([["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 5 + ["e"] * 3 + ["f"] * 2], tail) == 0.10


def test_ties_at_the_threshold_are_all_rare():
    tail = rare_tokens(Counter({"a": 90, "b": 5, "c": 5}), 0.05)
    assert tail.rare == {"b", "c"} and tail.real_mass == pytest.approx(0.10)
    with pytest.raises(ValueError, match="tail_quantile"):
        rare_tokens(Counter({"a": 1}), 1.0)


def test_perplexity_stats_from_document_losses():
    stats = perplexity_stats([math.log(2), math.log(4), math.log(8)], quantiles=(0.5,))
    assert stats == pytest.approx({"ppl_mean": 14 / 3, "ppl_p50": 4.0})


def test_document_losses_match_the_models_own_loss():
    model = tiny_model()
    seqs = [[1, 2, 3, 4, 5], [6, 7, 8], [9, 10, 11, 12, 13]]
    losses = document_losses(model, seqs, batch_size=1)
    for seq, loss in zip(seqs, losses):
        ids = torch.tensor([seq])
        with torch.no_grad():
            assert loss == pytest.approx(float(model(ids[:, :-1], targets=ids[:, 1:])), rel=1e-5)
    assert document_losses(model, seqs, batch_size=8) == pytest.approx(losses, rel=1e-5)


def test_scoring_from_a_position_counts_only_the_later_tokens():
    model = tiny_model()
    seq = [1, 2, 3, 4, 5, 6]
    whole = torch.tensor([seq])
    with torch.no_grad():
        per_token = torch.nn.functional.cross_entropy(model(whole[:, :-1])[0], whole[0, 1:], reduction="none")
    assert document_losses(model, [seq, seq], score_from=[3, 1]) == pytest.approx(
        [float(per_token[2:].mean()), float(per_token.mean())], rel=1e-5)
    with pytest.raises(ValueError, match="scored from position 6"):
        document_losses(model, [seq], score_from=[6])


def test_generation_metrics_is_a_fixed_function_of_model_prompts_and_seed():
    from train.batch_generate import SamplingParams
    from train.diversity import generation_metrics

    model = tiny_model()
    tail = rare_tokens(Counter({t: t + 1 for t in range(64)}), 0.2)
    prompts = [[1, 2], [3], [4, 5, 6]]
    params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=0)
    first = generation_metrics(model, prompts, params, tail, batch_size=2)
    assert generation_metrics(model, prompts, params, tail, batch_size=3) == pytest.approx(first, rel=1e-6)
    assert set(first) >= {"distinct_2", "tail_mass", "ppl_mean", "ppl_p50", "type_token_ratio"}
    assert 0 < first["distinct_2"] <= 1 and first["ppl_mean"] > 1
