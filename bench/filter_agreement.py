"""Our quality filters and datatrove's on the same documents: speed side by side, then per-rule agreement.

Used by prep_throughput.py (English) and zh_throughput.py (Chinese); each passes its filters as
``{rule: check(text) -> decision}`` and, when a decision carries more than the rejection reason,
``reason_of`` to pick the reason out (None = kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def run_filters(filters: dict, rules: Sequence[str], docs: list[str]) -> tuple[float, dict[str, list]]:
    decisions: dict[str, list] = {name: [] for name in rules}
    start = time.perf_counter()
    for text in docs:
        for name in rules:
            decisions[name].append(filters[name](text))
    return time.perf_counter() - start, decisions


def _timed(filters: dict, rules: Sequence[str], docs: list[str]) -> tuple[float, dict[str, list]]:
    run_filters(filters, rules, docs[:200])  # warm the per-process token caches like a long run would
    return run_filters(filters, rules, docs)


def compare_filters(title: str, docs: list[str], rules: Sequence[str], ours: dict, theirs: dict | None,
                    reason_of: Callable[[Any], str | None] = lambda d: d) -> tuple[dict, dict] | None:
    """Print docs/s of both, their ratio and the agreement table; return both decisions (None without datatrove)."""
    our_time, our_dec = _timed(ours, rules, docs)
    print(f"\n== {title} ==")
    print(f"ours      : {len(docs) / our_time:9.1f} docs/s")
    if theirs is None:
        return None
    dt_time, dt_dec = _timed(theirs, rules, docs)
    print(f"datatrove : {len(docs) / dt_time:9.1f} docs/s")
    print(f"ratio     : {dt_time / our_time:9.2f}x")
    print(f"{'rule':<20}{'agree':>9}{'ours drop':>11}{'dt drop':>9}  disagreements (ours|datatrove)")
    for name in rules:
        pairs = [(reason_of(a), reason_of(b)) for a, b in zip(our_dec[name], dt_dec[name])]
        agree = sum((a is None) == (b is None) for a, b in pairs)
        drops = sum(a is not None for a, _ in pairs), sum(b is not None for _, b in pairs)
        mismatched = [f"{a}|{b}" for a, b in pairs if (a is None) != (b is None)]
        print(f"{name:<20}{100 * agree / len(pairs):8.2f}%{drops[0]:>11}{drops[1]:>9}  {mismatched[:4]}")
    return our_dec, dt_dec
