"""data_prep.output.canaries: seeded secrets, one Document per copy, manifest records, lossless interleaving."""

from __future__ import annotations

from collections import Counter

import pytest

from data_prep.document import Document
from data_prep.output.canaries import canary_documents, interleave, make_canaries, manifest_records, shuffled
from openpretrain.errors import UserError


def test_canaries_are_seeded_distinct_and_grouped_by_repeats():
    canaries = make_canaries(3, [1, 10, 100], seed=5)
    assert canaries == make_canaries(3, [1, 10, 100], seed=5) != make_canaries(3, [1, 10, 100], seed=6)
    assert Counter(c.repeats for c in canaries) == {1: 3, 10: 3, 100: 3}
    assert len({c.prefix for c in canaries}) == 9 and len({c.secret for c in canaries}) == 9
    assert all(c.secret.replace(" ", "").isdigit() and len(c.secret.replace(" ", "")) == 12 for c in canaries)


def test_documents_carry_every_copy_with_meta():
    canaries = make_canaries(2, [1, 10], seed=0)
    docs = canary_documents(canaries)
    assert len(docs) == 2 * 1 + 2 * 10 and len({d.id for d in docs}) == len(docs)
    assert all(d.source == "canaries" and not d.synthetic and d.meta["canary"]["id"] in d.id for d in docs)
    assert Counter(d.text for d in docs) == {c.text: c.repeats for c in canaries}
    records = manifest_records(canaries)
    assert records[0] == {"id": canaries[0].id, "prefix": canaries[0].prefix, "secret": canaries[0].secret,
                          "repeats": 1}


def test_interleave_spreads_and_never_loses_a_canary():
    real = [Document(id=f"real/{i}", text="x", source="real", license="MIT") for i in range(10)]
    canaries = shuffled(canary_documents(make_canaries(1, [3, 5], seed=1)), seed=2)
    out = list(interleave(real, canaries, every=2))
    assert len(out) == 18 and [d.id for d in out if d.source == "real"] == [d.id for d in real]
    assert out[2].source == "canaries" and out[1].source == "real"
    assert [d.id for d in out if d.source == "canaries"] == [d.id for d in canaries]


def test_bad_input_is_one_clear_error():
    with pytest.raises(UserError, match="canaries.repeats"):
        make_canaries(1, [1, 1], seed=0)
    with pytest.raises(UserError, match="canaries.count"):
        make_canaries(0, [1], seed=0)
