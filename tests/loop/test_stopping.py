"""launch.loop.stopping: no-progress and collapse rules, honestly triggered by the data."""

from __future__ import annotations

import pytest

from launch.loop.stopping import StopRule, decide
from openpretrain.errors import ConfigError


def rounds(bpbs: list[float], distinct: list[float] | None = None) -> list[dict]:
    distinct = distinct or [0.5] * len(bpbs)
    return [{"round": r, "real_val_bpb": b, "distinct_2": d} for r, (b, d) in enumerate(zip(bpbs, distinct))]


def test_improving_loop_keeps_going():
    rule = StopRule(min_improvement=0.01, patience=1, min_distinct_ratio=0.5)
    assert decide(rounds([2.0]), rule) is None
    assert decide(rounds([2.0, 1.9, 1.8]), rule) is None


def test_a_threshold_round_one_cannot_meet_stops_it():
    stopped = decide(rounds([2.0, 1.9]), StopRule(min_improvement=1.0, patience=1, min_distinct_ratio=0.0))
    assert stopped["round"] == 1 and "not improved by 1.0 for 1 round" in stopped["reason"]


def test_patience_counts_consecutive_non_improving_rounds():
    rule = StopRule(min_improvement=0.05, patience=2, min_distinct_ratio=0.0)
    assert decide(rounds([2.0, 1.99]), rule) is None  # one bad round, patience 2
    assert decide(rounds([2.0, 1.99, 1.98]), rule)["round"] == 2
    assert decide(rounds([2.0, 1.99, 1.90]), rule) is None  # round 2 improves on the best before it
    assert decide(rounds([2.0, 1.8, 1.79, 1.78]), rule)["round"] == 3  # judged against the best, 1.8


def test_distinct_2_collapse_stops_and_both_reasons_are_named():
    rule = StopRule(min_improvement=0.0, patience=1, min_distinct_ratio=0.8)
    assert decide(rounds([2.0, 1.9], [0.5, 0.41]), rule) is None
    stopped = decide(rounds([2.0, 1.9], [0.5, 0.39]), rule)
    assert "distinct_2 fell to 0.3900, below 0.8 x round 0's 0.5000" in stopped["reason"]
    both = decide(rounds([2.0, 2.1], [0.5, 0.3]), rule)["reason"]
    assert "real_val_bpb" in both and "distinct_2" in both


@pytest.mark.parametrize("rule,key", [(StopRule(-1, 1, 0.5), "loop.min_improvement"),
                                      (StopRule(0, 0, 0.5), "loop.patience"),
                                      (StopRule(0, 1, 1.0), "loop.min_distinct_ratio")])
def test_bad_rule_names_its_key(rule, key):
    with pytest.raises(ConfigError, match=key):
        decide(rounds([1.0, 1.0]), rule)
