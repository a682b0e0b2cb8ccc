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

from bench.filter_agreement import compare_filters  # noqa: E402
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


def report_filters(docs: list[str], cfg: PipelineConfig) -> None:
    title = f"quality filters ({len(docs)} docs, {sum(map(len, docs)) / 1e6:.1f} MB, 1 core)"
    decisions = compare_filters(title, docs, RULES, our_filters(cfg), datatrove_filters(cfg),
                                reason_of=lambda d: d[0])  # (reason, text): c4 may rewrite the text
    if decisions is None:
        return
    both_kept = [(a, b) for a, b in zip(decisions[0]["c4"], decisions[1]["c4"]) if a[0] is None and b[0] is None]
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
