"""The synthetic token share of a training mix, from the manifests' provenance, and its hard cap.

Mixture weights are shares of *samples*, and every sample holds the same number of tokens, so the
synthetic token share of the mix is ``sum(weight_i * synthetic_token_share_i)`` over the datasets, each
dataset's share read from its manifest (``provenance.synthetic_token_share``, written by data_prep).
Training checks this itself (``data.max_synthetic_share``) instead of trusting whoever built the mix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpretrain.errors import ConfigError, UserError

# Weights are normalised floats; a mix planned exactly at the cap must not be refused for rounding.
TOLERANCE = 1e-9


def dataset_synthetic_share(label: str, provenance: Mapping[str, Any]) -> float:
    share = provenance.get("synthetic_token_share")
    if share is None:
        raise UserError(f"data.mix: dataset '{label}' has no provenance.synthetic_token_share in its manifest "
                        "(prepared by an older data_prep?); re-prepare it to use data.max_synthetic_share")
    return float(share)


def mix_synthetic_share(datasets: Sequence[tuple[str, float, Mapping[str, Any]]]) -> float:
    """``datasets``: (label, normalised weight, manifest provenance) of each dataset in the mix."""
    return sum(weight * dataset_synthetic_share(label, prov) for label, weight, prov in datasets)


def check_synthetic_cap(datasets: Sequence[tuple[str, float, Mapping[str, Any]]], cap: float | None) -> float:
    """The mix's synthetic token share; one clear error when it is above ``cap`` (None = no cap)."""
    if cap is not None and not 0 < cap < 1:
        raise ConfigError("data.max_synthetic_share", f"must be in (0, 1) or null, got {cap}")
    share = mix_synthetic_share(datasets)
    if cap is not None and share > cap + TOLERANCE:
        parts = ", ".join(f"{label} {weight:.3f} x {dataset_synthetic_share(label, prov):.3f}"
                          for label, weight, prov in datasets)
        raise UserError(f"data.max_synthetic_share: the mix is {share:.4f} synthetic by tokens, above the cap "
                        f"{cap} (weight x synthetic share: {parts}); lower the synthetic weights")
    return share
