"""Capped mixing: the loop's planned mix and training's own check from the manifests' provenance."""

from __future__ import annotations

import pytest

from launch.loop.mix import PreparedSet, plan_mix
from openpretrain.errors import ConfigError, UserError
from train.data.synthetic_share import check_synthetic_cap

REAL = PreparedSet("real", "/data/real", 1_000_000)
ROUNDS = [PreparedSet(f"round_{r}", f"/loop/round_{r}/synthetic", 100_000 * r) for r in (1, 2, 3)]


def as_training_sees_it(mix: list[dict]) -> list[tuple]:
    shares = {"real": 0.0, **{s.name: 1.0 for s in ROUNDS}}  # every synthetic dataset is synthetic=true
    return [(e["name"], e["weight"], {"synthetic_token_share": shares[e["name"]]}) for e in mix]


def test_accumulate_keeps_every_round_under_the_cap():
    mix = plan_mix(REAL, ROUNDS, 0.2)
    assert [e["name"] for e in mix] == ["real", "round_1", "round_2", "round_3"]
    assert sum(e["weight"] for e in mix) == pytest.approx(1.0)
    assert mix[0]["weight"] == pytest.approx(0.8)  # 600k synthetic vs 1M real would be 0.375: capped
    assert mix[3]["weight"] == pytest.approx(0.2 * 3 / 6)  # by size within the synthetic share
    assert check_synthetic_cap(as_training_sees_it(mix), 0.2) == pytest.approx(0.2)


def test_below_the_cap_the_natural_proportion_is_kept_and_replace_uses_the_newest_round():
    mix = plan_mix(REAL, ROUNDS[:1], 0.2)
    assert mix[1]["weight"] == pytest.approx(100_000 / 1_100_000)
    replaced = plan_mix(REAL, ROUNDS, 0.5, policy="replace")
    assert [e["name"] for e in replaced] == ["real", "round_3"]
    assert replaced[1]["weight"] == pytest.approx(300_000 / 1_300_000)
    assert plan_mix(REAL, [], 0.2) == [{"path": "/data/real", "weight": 1.0, "name": "real"}]


def test_training_refuses_a_mix_above_the_cap_in_one_line():
    too_much = [("real", 0.7, {"synthetic_token_share": 0.0}), ("round_1", 0.3, {"synthetic_token_share": 1.0})]
    with pytest.raises(UserError, match=r"0.3000 synthetic by tokens, above the cap 0.2 .*round_1 0.300 x 1.000"):
        check_synthetic_cap(too_much, 0.2)
    assert check_synthetic_cap(too_much, None) == pytest.approx(0.3)
    with pytest.raises(UserError, match="has no provenance.synthetic_token_share"):
        check_synthetic_cap([("old", 1.0, {})], 0.2)


@pytest.mark.parametrize("cap", [0.0, 1.0, -0.1, 1.5])
def test_a_cap_outside_zero_one_is_refused(cap):
    with pytest.raises(ConfigError, match="loop.max_synthetic_share"):
        plan_mix(REAL, ROUNDS, cap)
    with pytest.raises(ConfigError, match="data.max_synthetic_share"):
        check_synthetic_cap([], cap)


def test_unknown_policy_is_refused():
    with pytest.raises(ConfigError, match="loop.synthetic.*accumulate, replace"):
        plan_mix(REAL, ROUNDS, 0.2, policy="swap")
