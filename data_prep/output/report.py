"""``OUT/report.html`` + PNGs: what the run kept, what it rejected and why, where the tokens came from."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping

from openpretrain.manifest import Manifest

REPORT_NAME = "report.html"
REPORT_ASSETS = "report"  # folder of the PNGs, next to report.html
PII_PREFIX = "pii/"
FIGURE_SIZE = (7.0, 3.6)
FIGURE_DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir: str, name: str) -> str:
    rel = f"{REPORT_ASSETS}/{name}.png"
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, rel), dpi=FIGURE_DPI)
    _plt().close(fig)
    return rel


def _length_histogram(hist: Mapping[str, Mapping[str, int]], out_dir: str) -> str:
    plt = _plt()
    bins = sorted({int(b) for part in hist.values() for b in part})
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    width = 0.4
    for offset, key, label in ((-width / 2, "in", "before stages"), (width / 2, "out", "written")):
        ax.bar([b + offset for b in bins], [hist.get(key, {}).get(str(b), 0) for b in bins], width, label=label)
    ax.set_xticks(bins, [f"<2^{b}" if b else "0" for b in bins], rotation=60, fontsize=7)
    ax.set_xlabel("document length (characters)")
    ax.set_ylabel("documents")
    ax.legend()
    return _save(fig, out_dir, "doc_lengths")


def _barh(values: Mapping[str, float], title: str, xlabel: str, out_dir: str, name: str) -> str | None:
    if not values:
        return None
    plt = _plt()
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(FIGURE_SIZE[0], max(1.6, 0.3 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _save(fig, out_dir, name)


def _bias_plot(bias: Mapping[str, Mapping[str, Mapping[str, float]]], out_dir: str) -> str | None:
    """Bars per language/group: mentions in rejected text / all mentions, against a tick for the share of
    all the language's words that was rejected (a bar well past its tick: that group's text is removed
    more than text overall); annotated with the kept mentions per 10k words."""
    rows = [(f"{lang}/{group}", row) for lang, groups in sorted(bias.items()) for group, row in sorted(groups.items())]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIGURE_SIZE[0], max(2.2, 0.35 * len(rows) + 1.6)))
    ax.barh([name for name, _ in rows], [row["rejected_share"] for _, row in rows], label="group's mentions")
    ax.scatter([row.get("words_rejected_share", 0.0) for _, row in rows], range(len(rows)), marker="|", s=400,
               color="black", label="all words of the language", zorder=3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=2, frameon=False)
    for i, (_, row) in enumerate(rows):
        ax.annotate(f" kept {row['kept']} ({row['per_10k_words_kept']:.1f}/10k words)",
                    (row["rejected_share"], i), va="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of mentions in rejected text")
    return _save(fig, out_dir, "bias")


def _share(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _table(rows: Mapping[str, object], header: tuple[str, str]) -> str:
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())
    return f"<table><tr><th>{header[0]}</th><th>{header[1]}</th></tr>{body}</table>"


def write_report(manifest: Manifest, out_dir: str) -> str:
    """Write the report; return the path of report.html."""
    os.makedirs(os.path.join(out_dir, REPORT_ASSETS), exist_ok=True)
    stats, prov = manifest.stats, manifest.provenance
    pii = {k[len(PII_PREFIX):]: v for k, v in stats.get("counters", {}).items() if k.startswith(PII_PREFIX)}
    figures = [
        ("Document lengths before and after the stages", _length_histogram(prov["length_hist_chars_log2"], out_dir)),
        ("Rejections by stage/reason", _barh(stats["rejected"], "rejected documents", "documents", out_dir, "rejections")),
        ("Token share per source", _barh(_share(prov["tokens_by_source"]), "token share", "share", out_dir, "tokens_by_source")),
        ("Token share per licence", _barh(_share(prov["tokens_by_license"]), "token share", "share", out_dir, "tokens_by_license")),
        ("PII replaced, by type", _barh(pii, "PII matches", "matches", out_dir, "pii")),
        ("Representation: share of each term group's mentions that the stages removed",
         _bias_plot(stats.get("bias", {}), out_dir)),
    ]
    summary = {
        "documents in": stats["docs_in"],
        "documents written": stats["docs_written"],
        "documents rejected": sum(stats["rejected"].values()),
        "tokens written": stats.get("tokens_written", 0),
        "train / val samples": f"{stats['samples']['train']} / {stats['samples']['val']}",
        "bytes per token": f"{manifest.bytes_per_token:.3f}" if manifest.bytes_per_token else "n/a",
        "synthetic token share": f"{prov.get('synthetic_token_share', 0.0):.3%}"
                                 f" ({prov.get('synthetic_tokens', 0)} tokens)",
        "synthetic document share": f"{prov.get('synthetic_doc_share', 0.0):.3%} ({prov.get('synthetic_docs', 0)} docs)",
    }
    generator = prov.get("generator")
    if generator:
        summary["generator"] = (f"{generator['checkpoint']} (step {generator['step']}, weights "
                                f"{generator['weights_hash']}, loop round {generator['loop_round']})")
        summary["sampling"] = ", ".join(f"{k}={v}" for k, v in sorted(generator["sampling"].items()))
    for name in ("discriminator", "ppl", "dedup_real"):
        if name in stats:
            summary[f"stage {name}"] = ", ".join(f"{k}={v}" for k, v in sorted(stats[name].items()))
    sections = [f"<h2>{html.escape(title)}</h2><img src='{rel}'>" for title, rel in figures if rel]
    sections.append("<h2>Rejections</h2>" + _table(stats["rejected"], ("stage/reason", "documents")))
    sections.append("<h2>Counters</h2>" + _table(stats.get("counters", {}), ("counter", "value")))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>data_prep report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 10px;text-align:left}"
        "</style></head><body><h1>data_prep report</h1>"
        + _table(summary, ("", "")) + "".join(sections) + "</body></html>"
    )
    path = os.path.join(out_dir, REPORT_NAME)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(page)
    return path
