"""train.memorization: the probe finds what a model memorised, not what it never saw."""

from __future__ import annotations

import pytest
import torch

from openpretrain.errors import UserError
from tests.loop.tiny import overfit, tiny_model
from train.memorization import (
    canaries_by_repeats,
    canary_check,
    memorization,
    probe,
    sample_positions,
    token_match,
)

PREFIX, SUFFIX = 12, 12


def random_sequences(n: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 64, (n, PREFIX + SUFFIX), generator=g).tolist()


@pytest.fixture(scope="module")
def overfit_model():
    trained = random_sequences(8, seed=1)
    planted = random_sequences(1, seed=2)[0]
    model = overfit(tiny_model(dim=64, init_std=0.02), trained + [planted] * 100, steps=120)
    return model, trained, planted


def test_trained_sequences_are_memorised_and_the_control_is_not(overfit_model):
    model, trained, _ = overfit_model
    result = probe(model, trained, random_sequences(8, seed=3), PREFIX, SUFFIX)
    assert result["num_sequences"] == 8
    assert result["exact_match_rate"] >= 0.75 and result["mean_token_match"] > 0.9
    assert result["control_exact_match_rate"] == 0.0 and result["control_mean_token_match"] < 0.2


def test_planted_canary_is_found_and_an_unplanted_one_is_not(overfit_model):
    model, _, planted = overfit_model
    unplanted = random_sequences(1, seed=4)[0]
    results = canary_check(model, [
        ("planted", 100, planted[:PREFIX], planted[PREFIX:]),
        ("unplanted", 0, unplanted[:PREFIX], unplanted[PREFIX:]),
        ("short-secret", 100, planted[:PREFIX], planted[PREFIX:PREFIX + 3]),
    ])
    assert [r.completed for r in results] == [True, False, True]
    assert results[1].token_match < 0.5
    assert canaries_by_repeats(results) == {0: {"count": 1, "completed_rate": 0.0},
                                            100: {"count": 2, "completed_rate": 1.0}}


def test_scores_are_fractions_of_the_true_continuation():
    assert token_match([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
    assert token_match([1], [1, 2]) == 0.5  # a short generation counts its missing positions as misses
    model = tiny_model()
    seqs = random_sequences(3, seed=5)
    result = memorization(model, seqs, PREFIX, SUFFIX)
    assert 0 <= result.mean_token_match < 1 and result.exact_match_rate == 0.0


def test_sample_positions_are_seeded_distinct_and_within_the_data_position():
    first = sample_positions(1000, 50, seed=1)
    assert first == sample_positions(1000, 50, seed=1) != sample_positions(1000, 50, seed=2)
    assert len(set(first)) == 50 and all(0 <= i < 1000 for i in first) and first == sorted(first)
    assert sample_positions(5, 50, seed=1) == [0, 1, 2, 3, 4]


def test_bad_input_is_one_clear_error():
    model = tiny_model()
    with pytest.raises(UserError, match="sequence 1 has 5 tokens"):
        memorization(model, [[1] * 24, [1] * 5], PREFIX, SUFFIX)
    with pytest.raises(UserError, match="no sequences"):
        memorization(model, [], PREFIX, SUFFIX)


def test_planted_canary_documents_round_trip_through_the_manifest_records():
    """data_prep.output.canaries → training text → manifest records → canary_inputs → canary_check."""
    from data_prep.output.canaries import canary_documents, make_canaries, manifest_records
    from train.memorization import canary_inputs

    def encode(text: str) -> list[int]:  # a character tokenizer; the run's BPE goes through the same code
        return [ord(c) for c in text]

    planted = make_canaries(1, [1, 100], seed=0)
    texts = [doc.text for doc in canary_documents(planted)]
    assert len({len(t) for t in texts}) == 1  # equal lengths: one training batch without padding
    model = overfit(tiny_model(vocab=128, dim=64, init_std=0.02), [[0, *encode(t)] for t in texts], steps=120)
    unplanted = make_canaries(1, [100], seed=1)
    inputs = canary_inputs(manifest_records(planted + unplanted), encode, start_ids=[0])
    assert inputs[1][2][0] == 0 and "".join(map(chr, inputs[1][3])) == " " + planted[1].secret
    results = canary_check(model, inputs)
    assert (results[1].canary_id, results[1].repeats, results[1].completed) == ("r100-0", 100, True)
    assert not results[2].completed and results[2].token_match < 0.5  # unplanted, same prefix template
