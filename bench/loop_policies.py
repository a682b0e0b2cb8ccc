"""Accumulate vs replace, side by side: a 3-round CPU loop on the tiny embedded corpus for each policy,
then one table per round (real bpb, distinct-2, tail mass, synthetic share, memorization).

    PYTHONPATH=. DS_ACCELERATOR=cpu python bench/loop_policies.py OUT_DIR [rounds] [steps_per_round] [docs]

Uses the same tiny setup as tests/loop (a 0.1M-parameter model, 32-token samples, word-soup corpus); the
numbers show what the loop does mechanically, not what it does to a real model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.loop.loop_helpers import loop_argv, prepare_real, run_loop

COLUMNS = ("real_val_bpb", "distinct_2", "tail_mass", "synthetic_share", "synthetic_kept", "exact_match",
           "control_exact_match")


def row(entry: dict) -> list[str]:
    values = [entry["real_val_bpb"], entry["distinct_2"], entry["tail_mass"], entry["synthetic_share"],
              entry["synthetic_kept"], entry["memorization"]["exact_match_rate"],
              entry["memorization"]["control_exact_match_rate"]]
    return [f"{v:.4f}" if isinstance(v, float) else str(v) for v in values]


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    given = [int(a) for a in sys.argv[2:5]]
    rounds, steps, docs = given + [3, 20, 48][len(given):]
    real = out / "real"
    if not (real / "manifest.json").exists():
        prepare_real(real)
    books = {}
    for policy in ("accumulate", "replace"):
        run_loop(loop_argv(out / policy, real, f"loop.synthetic={policy}", "loop.min_distinct_ratio=0",
                           "loop.min_improvement=0", f"loop.patience={rounds}", rounds=rounds, docs=docs,
                           steps=steps), timeout=3600)
        books[policy] = json.loads((out / policy / "loop.json").read_text())
    print("| round | policy | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for r in range(rounds):
        for policy, book in books.items():
            if r < len(book["rounds"]):
                print(f"| {r} | {policy} | " + " | ".join(row(book["rounds"][r])) + " |")


if __name__ == "__main__":
    main()
