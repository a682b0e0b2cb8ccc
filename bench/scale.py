"""Internet scale, simulated (issue 16): does start-up and dedup cost stay flat / linear as data grows ×10?

Two parts, neither needs real text:
  startup  bench/scale_startup.py — a simulated 1T-token dataset's metadata (manifest + per-shard sidecar
           indexes, sparse placeholder shards); one training rank's start-up through the real loader code up
           to its first batch's sample indices. Time and peak RSS should stay flat as samples grow.
  dedup    bench/scale_dedup.py — random MinHash signatures with planted duplicates; the real bucketed dedup
           steps run locally with 2 workers. Time should grow ~linearly, peak RSS per step stay bounded.
Each size runs in fresh processes so peak RSS belongs to that size (and step) alone.

  python bench/scale.py                 # startup 1e6,1e7,1e8 samples; dedup 1e6,1e7 (+5e7 with --large)
  python bench/scale.py --smallest      # only the 1e6 sizes of both parts (a few minutes)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scale_dedup import run_dedup  # noqa: E402
from scale_startup import run_startup  # noqa: E402

STARTUP_SIZES = [10**6, 10**7, 10**8]
DEDUP_SIZES = [10**6, 10**7]
DEDUP_LARGE = 5 * 10**7  # ~6 GB of signatures: only with --large on a machine with >= 24 GB
_SKIP = {"part", "size", "step"}
# The columns worth reading side by side; every row carries more (see each module's docstring).
COLUMNS = {
    "startup": ["shards", "seconds", "data_info_s", "first_batch_s", "resume_s", "indexes_opened",
                "manifest_reads", "peak_rss_mb", "rss_growth_mb", "manifest_bytes"],
    "dedup": ["seconds", "peak_rss_mb", "processes", "planted_pairs", "found_pairs", "equal", "runs_gb"],
}


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def print_rows(rows: list[dict]) -> None:
    """One table per (part, step); columns are whatever numbers the part measured."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["part"], str(row.get("step", "")))].append(row)
    for (part, step), items in groups.items():
        wanted = COLUMNS.get(part) or [k for k in items[0] if k not in _SKIP]
        columns = ["size"] + [k for k in wanted if k in items[0]]
        print(f"\n== {part}{' / ' + step if step else ''} ==")
        print("  ".join(f"{c:>14}" for c in columns))
        for row in items:
            print("  ".join(f"{_fmt(row.get(c, '')):>14}" for c in columns))


def growth(rows: list[dict], metrics: tuple[str, ...] = ("seconds", "peak_rss_mb")) -> list[str]:
    """×10 data → ×? cost, between consecutive sizes of the same (part, step)."""
    lines = []
    series: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        series[(row["part"], str(row.get("step", "")))].append(row)
    for (part, step), items in series.items():
        items = sorted(items, key=lambda r: r["size"])
        for small, big in zip(items, items[1:]):
            ratios = ", ".join(f"{m} ×{big[m] / small[m]:.2f}" for m in metrics
                               if m in small and m in big and small[m])
            lines.append(f"{part}{'/' + step if step else ''}: size ×{big['size'] / small['size']:.0f} "
                         f"({small['size']:.0e} → {big['size']:.0e}) → {ratios}")
    return lines


def _sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smallest", action="store_true", help="only the 1e6 sizes of both parts")
    parser.add_argument("--large", action="store_true", help=f"add the {DEDUP_LARGE:.0e}-document dedup size")
    parser.add_argument("--part", choices=("startup", "dedup", "both"), default="both")
    parser.add_argument("--startup-sizes", type=_sizes, help="replace the start-up sizes, e.g. 1e5,1e6")
    parser.add_argument("--dedup-sizes", type=_sizes, help="replace the dedup sizes, e.g. 1e5,1e6")
    parser.add_argument("--workdir", default=None, help="where simulated data goes (default: a temp dir)")
    parser.add_argument("--workers", type=int, default=2, help="dedup processes per step")
    args = parser.parse_args(argv)
    startup_sizes = args.startup_sizes or (STARTUP_SIZES[:1] if args.smallest else STARTUP_SIZES)
    dedup_sizes = args.dedup_sizes or (
        DEDUP_SIZES[:1] if args.smallest else DEDUP_SIZES + ([DEDUP_LARGE] if args.large else []))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="scale-", dir=args.workdir) as workdir:
        if args.part in ("startup", "both"):
            rows += run_startup(startup_sizes, os.path.join(workdir, "startup"))
        if args.part in ("dedup", "both"):
            rows += run_dedup(dedup_sizes, os.path.join(workdir, "dedup"), workers=args.workers)
    print_rows(rows)
    lines = growth(rows)
    if lines:
        print("\n== growth (×10 data → ×? cost) ==")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
