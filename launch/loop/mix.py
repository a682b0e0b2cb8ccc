"""The training mix of a loop round: real data always in full, synthetic rounds under the token cap.

``accumulate`` (the default, Gerstgrasser et al. 2024) mixes the kept synthetic data of every round so
far; ``replace`` only the newest round's (for experiments: it is the setting that collapses). Synthetic
datasets enter in proportion to their sizes, real : synthetic as their token counts say, except that the
synthetic total never exceeds ``max_synthetic_share`` of the samples. Weights are sample shares, which
are token shares because every sample has the same length (Contract 2); training re-checks the cap
from the manifests (train.data.synthetic_share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openpretrain.errors import ConfigError, UserError

POLICIES = ("accumulate", "replace")


@dataclass(frozen=True)
class PreparedSet:
    name: str
    path: str
    train_tokens: int  # tokens of its train split (from its manifest)


def plan_mix(real: PreparedSet, synthetic_rounds: Sequence[PreparedSet], max_synthetic_share: float,
             policy: str = "accumulate") -> list[dict]:
    """``data.mix`` entries ({path, weight, name}) for the next training step of the loop.

    ``synthetic_rounds``: the kept synthetic dataset of rounds 1..R, oldest first.
    """
    if not 0 < max_synthetic_share < 1:
        raise ConfigError("loop.max_synthetic_share", f"must be in (0, 1), got {max_synthetic_share}")
    if policy not in POLICIES:
        raise ConfigError("loop.synthetic", f"must be one of {', '.join(POLICIES)}, got {policy!r}")
    if real.train_tokens <= 0:
        raise UserError(f"loop.real_data: {real.path} has no train tokens")
    chosen = [s for s in (synthetic_rounds if policy == "accumulate" else synthetic_rounds[-1:]) if s.train_tokens > 0]
    synthetic_tokens = sum(s.train_tokens for s in chosen)
    natural = synthetic_tokens / (synthetic_tokens + real.train_tokens)
    synthetic_weight = min(max_synthetic_share, natural)
    mix = [{"path": real.path, "weight": 1.0 - synthetic_weight, "name": real.name}]
    mix += [{"path": s.path, "weight": synthetic_weight * s.train_tokens / synthetic_tokens, "name": s.name}
            for s in chosen]
    return mix
