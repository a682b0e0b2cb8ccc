"""Filter + MinHash throughput and decision agreement: data_prep vs datatrove on the same input.

    pip install datatrove spacy      # bench environment only; NOT a project dependency
    python bench/prep_throughput.py [--docs 5000] [--seed 0]

datatrove tokenises English with spaCy's blank pipeline (no model download needed). Without datatrove
(or spaCy) the script measures our side only and says so.

Printed: docs/s on one core for each filter set (Gopher quality + repetition, C4, FineWeb — each applied
to every document, as in a pipeline that records all decisions) and for MinHash signatures, the ratio
ours/datatrove, per-rule keep/drop agreement (and agreement of the C4-rewritten text), and for near-dedup
the agreement on "document belongs to a duplicate cluster". Input: bench/prep_corpus.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prep_corpus import build_corpus  # noqa: E402
from data_prep.config import PipelineConfig  # noqa: E402
from data_prep.stages.filters.c4 import C4Filter  # noqa: E402
from data_prep.stages.filters.fineweb import FineWebFilter  # noqa: E402
from data_prep.stages.filters.gopher_quality import GopherQualityFilter  # noqa: E402
from data_prep.stages.filters.gopher_repetition import GopherRepetitionFilter  # noqa: E402

RULES = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def web_config() -> PipelineConfig:
    from data_prep.api import compose_prep

    return compose_prep(["out_dir=unused", "pipeline=web"])[0].pipeline


def our_filters(cfg: PipelineConfig) -> dict:
    rep, qual = GopherRepetitionFilter(cfg.gopher_repetition), GopherQualityFilter(cfg.gopher_quality)
    c4, fw = C4Filter(cfg.c4), FineWebFilter(cfg.fineweb)

    def run_c4(text: str):
        reason, new_text, _ = c4.check(text)
        return reason, new_text

    return {"gopher_repetition": lambda t: (rep.check(t), None), "gopher_quality": lambda t: (qual.check(t), None),
            "c4": run_c4, "fineweb": lambda t: (fw.check(t), None)}


def datatrove_filters(cfg: PipelineConfig) -> dict | None:
    try:
        import spacy  # noqa: F401  (datatrove's English word tokenizer)
        from datatrove.data import Document as DtDocument
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
        )
        from datatrove.pipeline.filters import (
            GopherQualityFilter as DtGopherQuality,
        )
        from datatrove.pipeline.filters import (
            GopherRepetitionFilter as DtGopherRepetition,
        )
    except ImportError as exc:
        print(f"datatrove comparison skipped ({exc}); install with: pip install datatrove spacy")
        return None
    gr, gq, c4, fw = cfg.gopher_repetition, cfg.gopher_quality, cfg.c4, cfg.fineweb
    filters = {
        "gopher_repetition": DtGopherRepetition(
            dup_line_frac=gr.max_dup_line_frac, dup_para_frac=gr.max_dup_para_frac,
            dup_line_char_frac=gr.max_dup_line_char_frac, dup_para_char_frac=gr.max_dup_para_char_frac,
            top_n_grams=tuple(gr.top_ngram_max_char_frac.items()),
            dup_n_grams=tuple(gr.dup_ngram_max_char_frac.items())),
        "gopher_quality": DtGopherQuality(
            min_doc_words=gq.min_words, max_doc_words=gq.max_words, min_avg_word_length=gq.min_mean_word_length,
            max_avg_word_length=gq.max_mean_word_length, max_symbol_word_ratio=gq.max_hash_ratio,
            max_bullet_lines_ratio=gq.max_bullet_lines_ratio, max_ellipsis_lines_ratio=gq.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=gq.min_alpha_words_ratio, min_stop_words=gq.min_stop_words,
            stop_words=list(gq.stop_words)),
        "c4": C4QualityFilter(
            filter_no_terminal_punct=c4.filter_no_terminal_punct, min_num_sentences=c4.min_sentences,
            min_words_per_line=c4.min_words_per_line, max_word_length=c4.max_word_length,
            remove_citations=c4.remove_citations, filter_lorem_ipsum=c4.drop_lorem_ipsum,
            filter_javascript=c4.drop_javascript_lines, filter_curly_bracket=c4.drop_curly_bracket,
            filter_policy=c4.drop_policy_lines),
        "fineweb": FineWebQualityFilter(
            line_punct_thr=cfg.fineweb.min_terminal_punct_lines, short_line_thr=fw.max_short_lines,
            short_line_length=fw.short_line_chars, char_duplicates_ratio=fw.max_dup_line_char_frac,
            new_line_ratio=fw.max_newline_word_ratio),
    }

    def wrap(name: str, flt):
        def run(text: str):
            doc = DtDocument(text=text, id="0")
            result = flt.filter(doc)
            keep, reason = (result, None) if isinstance(result, bool) else result
            return (None if keep else (reason or "rejected")), (doc.text if name == "c4" else None)
        return run

    return {name: wrap(name, flt) for name, flt in filters.items()}


def run_filters(filters: dict, docs: list[str]) -> tuple[float, dict[str, list]]:
    decisions: dict[str, list] = {name: [] for name in RULES}
    start = time.perf_counter()
    for text in docs:
        for name in RULES:
            decisions[name].append(filters[name](text))
    return time.perf_counter() - start, decisions


def report_filters(docs: list[str], cfg: PipelineConfig) -> None:
    ours = our_filters(cfg)
    run_filters(ours, docs[:200])  # warm the per-process token caches like a long run would
    our_time, our_dec = run_filters(ours, docs)
    print(f"\n== quality filters ({len(docs)} docs, {sum(map(len, docs)) / 1e6:.1f} MB, 1 core) ==")
    print(f"ours      : {len(docs) / our_time:9.1f} docs/s")
    theirs = datatrove_filters(cfg)
    if theirs is None:
        return
    run_filters(theirs, docs[:200])
    dt_time, dt_dec = run_filters(theirs, docs)
    print(f"datatrove : {len(docs) / dt_time:9.1f} docs/s")
    print(f"ratio     : {dt_time / our_time:9.2f}x")
    print(f"{'rule':<20}{'agree':>9}{'ours drop':>11}{'dt drop':>9}  disagreements (ours|datatrove)")
    for name in RULES:
        pairs = list(zip(our_dec[name], dt_dec[name]))
        agree = sum((a[0] is None) == (b[0] is None) for a, b in pairs)
        drops = sum(a[0] is not None for a, _ in pairs), sum(b[0] is not None for _, b in pairs)
        mismatched = [f"{a[0]}|{b[0]}" for a, b in pairs if (a[0] is None) != (b[0] is None)]
        print(f"{name:<20}{100 * agree / len(pairs):8.2f}%{drops[0]:>11}{drops[1]:>9}  {mismatched[:4]}")
        if name == "c4":
            both_kept = [(a, b) for a, b in pairs if a[0] is None and b[0] is None]
            same = sum(a[1] == b[1] for a, b in both_kept)
            print(f"{'c4 text identical':<20}{100 * same / max(len(both_kept), 1):8.2f}% of {len(both_kept)} kept")


def report_full_chain(docs: list[str], cfg: PipelineConfig) -> None:
    """All web.yaml stages chained as the pipeline runs them (no datatrove equivalent for lang id / PII)."""
    from data_prep.document import Document, Stats
    from data_prep.stages import build_stages
    from data_prep.stages.base import run_stages

    stages = build_stages(cfg)
    items = [Document(id=str(i), text=t, source="bench", license="-") for i, t in enumerate(docs)]
    stats = Stats()
    start = time.perf_counter()
    kept = sum(1 for _ in run_stages(items, stages, stats))
    elapsed = time.perf_counter() - start
    names = " -> ".join(s.name for s in stages)
    print(f"\n== full web.yaml chain ({names}) ==")
    print(f"ours      : {len(docs) / elapsed:9.1f} docs/s, {kept} kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-minhash", action="store_true")
    args = parser.parse_args()
    docs = build_corpus(args.docs, args.seed)
    cfg = web_config()
    report_filters(docs, cfg)
    report_full_chain(docs, cfg)
    if not args.skip_minhash:
        from bench.prep_minhash import report_minhash
        with tempfile.TemporaryDirectory() as tmp:
            report_minhash(docs, cfg, Path(tmp))


if __name__ == "__main__":
    main()
