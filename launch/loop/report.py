"""``loop.dir/loop_report.html`` + PNGs: the ledger's per-round series, one plot each, and the table."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPORT_NAME = "loop_report.html"
REPORT_ASSETS = "loop_report"  # folder of the PNGs, next to the html
FIGURE_DPI = 100

# (file stem, title, y label, {legend: value of a ledger round or None})
_Series = dict[str, Callable[[dict[str, Any]], float | None]]
PLOTS: list[tuple[str, str, str, _Series]] = [
    ("real_val_bpb", "Real-data validation bits per byte", "bpb", {"real val": lambda r: r["real_val_bpb"]}),
    ("distinct_2", "Diversity of generations (distinct-2)", "distinct-2", {"generations": lambda r: r["distinct_2"]}),
    ("tail_mass", "Share of generated tokens rare in real data", "tail mass",
     {"generations": lambda r: r["tail_mass"]}),
    ("synthetic_share", "Synthetic token share of the training mix", "share",
     {"synthetic": lambda r: r["synthetic_share"]}),
    ("discriminator_accuracy", "Discriminator held-out accuracy (0.5 = indistinguishable)", "accuracy",
     {"discriminator": lambda r: r["discriminator_accuracy"]}),
    ("memorization", "Memorization: exact-match rate", "rate",
     {"trained-on": lambda r: r["memorization"]["exact_match_rate"],
      "control (unseen)": lambda r: r["memorization"]["control_exact_match_rate"]}),
]
TABLE_COLUMNS = [
    ("round", lambda r: r["round"]),
    ("real_val_bpb", lambda r: r["real_val_bpb"]),
    ("distinct_2", lambda r: r["distinct_2"]),
    ("tail_mass", lambda r: r["tail_mass"]),
    ("synthetic_share", lambda r: r["synthetic_share"]),
    ("synthetic_kept", lambda r: r["synthetic_kept"]),
    ("rejected", lambda r: sum(r["synthetic_rejected"].values())),
    ("discriminator_accuracy", lambda r: r["discriminator_accuracy"]),
    ("exact_match", lambda r: r["memorization"]["exact_match_rate"]),
    ("control_exact_match", lambda r: r["memorization"]["control_exact_match_rate"]),
]


def _plot(out_dir: Path, stem: str, title: str, ylabel: str, series: _Series, rounds: list[dict],
          stopped: dict | None) -> str | None:
    """One PNG; None when no round has a value for it (e.g. the discriminator is off)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    points = {label: [(r["round"], get(r)) for r in rounds if get(r) is not None] for label, get in series.items()}
    if not any(points.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, xy in points.items():
        if xy:
            ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o", label=label)
    if stopped is not None:
        ax.axvline(stopped["round"], color="red", linestyle="--", label=f"stopped (round {stopped['round']})")
    ax.set_title(title)
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    fig.tight_layout()
    rel = f"{REPORT_ASSETS}/{stem}.png"
    fig.savefig(out_dir / rel, dpi=FIGURE_DPI)
    plt.close(fig)
    return rel


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def _table(rounds: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in TABLE_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{_cell(get(r))}</td>" for _, get in TABLE_COLUMNS) + "</tr>"
                   for r in rounds)
    return f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"


def write_report(loop_dir: str | Path, ledger: dict[str, Any]) -> Path:
    """Write the report from a ledger (``launch.loop.ledger``'s shape); return the html's path."""
    out_dir = Path(loop_dir)
    (out_dir / REPORT_ASSETS).mkdir(parents=True, exist_ok=True)
    rounds, stopped = ledger["rounds"], ledger["stopped"]
    figures = [(title, _plot(out_dir, stem, title, ylabel, series, rounds, stopped))
               for stem, title, ylabel, series in PLOTS]
    status = ("running or finished all rounds" if stopped is None
              else f"stopped after round {stopped['round']}: {stopped['reason']}")
    sections = "".join(f"<h2>{html.escape(title)}</h2><img src='{rel}'>" for title, rel in figures if rel)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>self-feedback loop report</title></head>"
            f"<body><h1>Self-feedback loop</h1><p>{len(rounds)} round(s); {html.escape(status)}</p>"
            f"{_table(rounds)}{sections}</body></html>")
    path = out_dir / REPORT_NAME
    tmp = path.with_name(f".{REPORT_NAME}.tmp-{os.getpid()}")
    tmp.write_text(page)
    os.replace(tmp, path)
    return path
