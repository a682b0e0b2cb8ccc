"""data_prep.stages.synthetic.discriminator: separates real from generated text, is seeded, and reports chance honestly."""

from __future__ import annotations

import numpy as np
import pytest

from data_prep.stages.synthetic.discriminator import Discriminator
from openpretrain.errors import UserError

WORDS = ["the", "a", "river", "town", "market", "bread", "winter", "light", "school", "music", "garden", "letter", "road", "morning", "city", "old", "young", "quiet", "bright", "farmer", "teacher", "walks", "builds", "sings", "reads", "opens", "closes", "under", "over", "near"]


def sentences(n: int, seed: int, vocab: list[str], length: int = 14) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(vocab, size=length)) for _ in range(n)]


def collapsed(n: int, seed: int) -> list[str]:
    """What a collapsing generator writes: a few phrases repeated, from a narrow vocabulary."""
    rng = np.random.default_rng(seed)
    return [" ".join(["the old road"] * 3 + list(rng.choice(WORDS[:6], size=5))) for _ in range(n)]


def test_separates_collapsed_generations_from_real_text():
    real, generated = sentences(60, 1, WORDS), collapsed(60, 2)
    disc = Discriminator(n_features=2**12, seed=0).fit(real, generated)
    assert disc.heldout_accuracy >= 0.9
    proba = disc.predict_proba(sentences(20, 3, WORDS) + collapsed(20, 4))
    assert proba[:20].mean() > 0.7 > 0.3 > proba[20:].mean()


def test_same_distribution_is_near_chance():
    disc = Discriminator(n_features=2**12, seed=0).fit(sentences(80, 5, WORDS), sentences(80, 6, WORDS))
    assert disc.heldout_accuracy <= 0.75


def test_deterministic_for_a_seed():
    real, generated = sentences(30, 1, WORDS), collapsed(30, 2)
    first = Discriminator(n_features=2**10, seed=4).fit(real, generated)
    again = Discriminator(n_features=2**10, seed=4).fit(real, generated)
    other = Discriminator(n_features=2**10, seed=5).fit(real, generated)
    assert np.array_equal(first.weights, again.weights) and first.heldout_accuracy == again.heldout_accuracy
    assert not np.array_equal(first.weights, other.weights)  # another split


def test_unbalanced_classes_and_empty_texts():
    disc = Discriminator(n_features=2**12, seed=0).fit(sentences(90, 1, WORDS), collapsed(10, 2))
    assert disc.heldout_accuracy >= 0.9  # balanced: predicting "real" for everything would score 0.5
    assert disc.predict_proba([""]).shape == (1,)


def test_bad_input_is_one_clear_error():
    with pytest.raises(UserError, match="at least 2 generated"):
        Discriminator().fit(["a b", "c d"], ["x"])
    with pytest.raises(UserError, match="heldout_fraction"):
        Discriminator(heldout_fraction=1.0)
