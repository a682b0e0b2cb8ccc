"""The loop's early-stop decision, from the ledger's rounds (real-data quality and generation diversity).

Two rules, checked after every round r >= 1:
- **no progress**: round k *improves* when its real-data bpb is at least ``min_improvement`` below the
  best bpb of all rounds before it. The loop stops when the last ``patience`` rounds all failed to
  improve (round 0 is the baseline, never counted as a failure).
- **collapse**: distinct-2 of the fixed generations fell below ``min_distinct_ratio`` × its round-0 value.
When both hold the reason names both. The loop also ends after ``loop.rounds`` rounds; that is not a stop
(the ledger's ``stopped`` stays null).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpretrain.errors import ConfigError


@dataclass(frozen=True)
class StopRule:
    min_improvement: float  # bpb
    patience: int  # rounds
    min_distinct_ratio: float  # of round 0's distinct-2; 0 disables the rule

    def validate(self) -> None:
        if self.min_improvement < 0:
            raise ConfigError("loop.min_improvement", f"must be >= 0 (bpb), got {self.min_improvement}")
        if self.patience < 1:
            raise ConfigError("loop.patience", f"must be >= 1 (rounds), got {self.patience}")
        if not 0 <= self.min_distinct_ratio < 1:
            raise ConfigError("loop.min_distinct_ratio", f"must be in [0, 1) (0 = off), got {self.min_distinct_ratio}")


def _improved(bpbs: Sequence[float], k: int, min_improvement: float) -> bool:
    return bpbs[k] <= min(bpbs[:k]) - min_improvement


def stop_reason(rounds: Sequence[dict[str, Any]], rule: StopRule) -> str | None:
    """Why the loop should stop after the last round in ``rounds`` (ledger entries), or None."""
    rule.validate()
    last = len(rounds) - 1
    if last < 1:
        return None
    reasons = []
    bpbs = [float(entry["real_val_bpb"]) for entry in rounds]
    window = range(last - rule.patience + 1, last + 1)
    if window.start >= 1 and not any(_improved(bpbs, k, rule.min_improvement) for k in window):
        best = min(bpbs[: window.start])
        reasons.append(f"real_val_bpb has not improved by {rule.min_improvement} for {rule.patience} round(s) "
                       f"(best before: {best:.4f}, round {last}: {bpbs[last]:.4f})")
    base, current = float(rounds[0]["distinct_2"]), float(rounds[last]["distinct_2"])
    if rule.min_distinct_ratio > 0 and current < rule.min_distinct_ratio * base:
        reasons.append(f"distinct_2 fell to {current:.4f}, below {rule.min_distinct_ratio} x round 0's "
                       f"{base:.4f}")
    return "; ".join(reasons) or None


def decide(rounds: Sequence[dict[str, Any]], rule: StopRule) -> dict[str, Any] | None:
    """The ledger's ``stopped`` value after the last round: ``{"round": r, "reason": ...}`` or None."""
    reason = stop_reason(rounds, rule)
    return None if reason is None else {"round": len(rounds) - 1, "reason": reason}
