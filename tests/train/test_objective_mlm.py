"""MLM masking: 15% selected, 80/10/10 split, loss positions, specials never touched, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from train.objectives.mlm import MaskingRule, mask_row, ordinary_ids
from train.objectives.seeding import sample_rng

IGNORE = -100
RULE = MaskingRule(probability=0.15, mask_rate=0.8, random_rate=0.1, mask_id=1, special_ids=(0, 1), vocab_size=500)


def _rows(n: int, length: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(n):
        row = rng.integers(2, 500, length)
        row[rng.integers(0, length, 8)] = 0  # EOS between documents
        rows.append(row)
    return rows


def test_masking_statistics_over_many_samples():
    ordinary = ordinary_ids(RULE)
    selected = masked = randomized = kept = candidates = 0
    for i, row in enumerate(_rows(300)):
        inputs, targets = mask_row(row, sample_rng(11, "mlm", f"s{i}"), RULE, ordinary, IGNORE)
        sel = targets != IGNORE
        candidates += int((row != 0).sum())
        selected += int(sel.sum())
        masked += int((inputs[sel] == 1).sum())
        kept += int((inputs[sel] == row[sel]).sum())
        randomized += int(((inputs[sel] != 1) & (inputs[sel] != row[sel])).sum())
        assert np.array_equal(targets[sel], row[sel])  # targets: the original token, only where selected
        assert np.array_equal(inputs[~sel], row[~sel])  # unselected positions are untouched
    assert selected / candidates == pytest.approx(0.15, abs=0.005)
    assert masked / selected == pytest.approx(0.8, abs=0.01)
    # A random replacement equal to the original (p = 1/498) counts as "kept": fold it into the bounds.
    assert randomized / selected == pytest.approx(0.1, abs=0.01)
    assert kept / selected == pytest.approx(0.1, abs=0.01)


def test_special_tokens_never_selected_nor_drawn():
    ordinary = ordinary_ids(RULE)
    assert 0 not in ordinary and 1 not in ordinary and len(ordinary) == 498
    row = np.zeros(512, dtype=np.int64)
    row[::2] = 7
    for i in range(50):
        inputs, targets = mask_row(row, sample_rng(1, "mlm", str(i)), RULE, ordinary, IGNORE)
        assert (targets[row == 0] == IGNORE).all()
        assert (inputs[row == 0] == 0).all()


def test_deterministic_per_seed_and_sample_id():
    row = _rows(1)[0]
    ordinary = ordinary_ids(RULE)
    a = mask_row(row, sample_rng(3, "mlm", "000000_000001"), RULE, ordinary, IGNORE)
    b = mask_row(row, sample_rng(3, "mlm", "000000_000001"), RULE, ordinary, IGNORE)
    c = mask_row(row, sample_rng(3, "mlm", "000000_000002"), RULE, ordinary, IGNORE)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
