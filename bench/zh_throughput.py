"""web_zh filters (Gopher repetition + quality, FineWeb; jieba words) vs datatrove with its zh tokenizer
(spaCy + jieba, as FineWeb-2 runs cmn_Hani), and the two segmenters rjieba vs jieba.

    pip install datatrove spacy jieba "xxhash<4"   # bench environment only; NOT project dependencies
    python bench/zh_throughput.py [--docs 3000] [--seed 0]

Printed: segmenter speed and equality; docs/s on one core for the filter set (each rule applied to every
document) on both sides with the same thresholds (conf/pipeline/web_zh.yaml) and terminal punctuation,
the ratio, and per-rule keep/drop agreement; then the whole web_zh chain's docs/s (language id, script,
bad words, filters, PII). Input: bench/zh_corpus.py.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.filter_agreement import compare_filters  # noqa: E402
from bench.zh_corpus import build_corpus  # noqa: E402
from data_prep.document import Document, Stats  # noqa: E402
from data_prep.stages import build_stages, pipeline_language  # noqa: E402
from data_prep.stages.base import run_stages, setup_stages  # noqa: E402
from data_prep.stages.filters.fineweb import FineWebFilter  # noqa: E402
from data_prep.stages.filters.gopher_quality import GopherQualityFilter  # noqa: E402
from data_prep.stages.filters.gopher_repetition import GopherRepetitionFilter  # noqa: E402

RULES = ("gopher_repetition", "gopher_quality", "fineweb")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def zh_config():
    from data_prep.api import compose_prep

    return compose_prep(["out_dir=unused", "pipeline=web_zh"])[0].pipeline


def bench_segmenters(docs: list[str]) -> None:
    import jieba
    import rjieba

    jieba.initialize()
    start = time.perf_counter()
    ours = [rjieba.cut(t) for t in docs]
    t_r = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [list(jieba.cut(t)) for t in docs]
    t_j = time.perf_counter() - start
    same = sum(a == b for a, b in zip(ours, theirs))
    same_han = sum(_han(a) == _han(b) for a, b in zip(ours, theirs))
    print(f"segmenters: rjieba {len(docs) / t_r:.0f} docs/s, jieba {len(docs) / t_j:.0f} docs/s, ratio "
          f"{t_j / t_r:.1f}x; identical Chinese words on {same_han}/{len(docs)} docs, identical tokens "
          f"on {same}/{len(docs)} (the rest differ only in ASCII runs with inner punctuation: rjieba keeps "
          f"'2.x', 'CTRL-G' whole, jieba splits some of them)")


def _han(tokens: list[str]) -> list[str]:
    return [t for t in tokens if _HAN.search(t)]


def our_filters(cfg) -> dict:
    language = pipeline_language(cfg)
    rep = GopherRepetitionFilter(cfg.gopher_repetition, language)
    qual = GopherQualityFilter(cfg.gopher_quality, language)
    fw = FineWebFilter(cfg.fineweb, language)
    return {"gopher_repetition": rep.check, "gopher_quality": qual.check, "fineweb": fw.check}


def datatrove_filters(cfg) -> dict | None:
    try:
        from datatrove.data import Document as DtDocument
        from datatrove.pipeline.filters import FineWebQualityFilter
        from datatrove.pipeline.filters import GopherQualityFilter as DtQuality
        from datatrove.pipeline.filters import GopherRepetitionFilter as DtRepetition
    except ImportError as exc:
        print(f"datatrove comparison skipped ({exc})")
        return None
    gr, gq, fw = cfg.gopher_repetition, cfg.gopher_quality, cfg.fineweb
    lang = "cmn_Hani"  # datatrove's tokenizer assignment: spaCy zh with the jieba segmenter
    filters = {
        "gopher_repetition": DtRepetition(
            dup_line_frac=gr.max_dup_line_frac, dup_para_frac=gr.max_dup_para_frac,
            dup_line_char_frac=gr.max_dup_line_char_frac, dup_para_char_frac=gr.max_dup_para_char_frac,
            top_n_grams=tuple(gr.top_ngram_max_char_frac.items()),
            dup_n_grams=tuple(gr.dup_ngram_max_char_frac.items()), language=lang),
        "gopher_quality": DtQuality(
            min_doc_words=gq.min_words, max_doc_words=gq.max_words, min_avg_word_length=gq.min_mean_word_length,
            max_avg_word_length=gq.max_mean_word_length, max_symbol_word_ratio=gq.max_hash_ratio,
            max_bullet_lines_ratio=gq.max_bullet_lines_ratio, max_ellipsis_lines_ratio=gq.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=gq.min_alpha_words_ratio, min_stop_words=gq.min_stop_words,
            stop_words=list(gq.stop_words), language=lang),
        "fineweb": FineWebQualityFilter(
            line_punct_thr=fw.min_terminal_punct_lines, short_line_thr=fw.max_short_lines,
            short_line_length=fw.short_line_chars, char_duplicates_ratio=fw.max_dup_line_char_frac,
            new_line_ratio=fw.max_newline_word_ratio, language=lang,
            stop_chars=pipeline_language(cfg).terminal_punctuation),
    }

    def wrap(flt):
        def run(text: str):
            result = flt.filter(DtDocument(text=text, id="0"))
            keep, reason = (result, None) if isinstance(result, bool) else result
            return None if keep else (reason or "rejected")
        return run

    return {name: wrap(flt) for name, flt in filters.items()}


def report_filters(docs: list[str], cfg) -> None:
    title = f"web_zh quality filters ({len(docs)} docs, {sum(map(len, docs)) / 1e6:.2f} M chars, 1 core)"
    compare_filters(title, docs, RULES, our_filters(cfg), datatrove_filters(cfg))


def report_chain(docs: list[str], cfg) -> None:
    stages = setup_stages(build_stages(cfg))
    list(run_stages((Document(str(i), t, "b", "x") for i, t in enumerate(docs[:200])), stages, Stats()))
    stats = Stats()
    start = time.perf_counter()
    kept = sum(1 for _ in run_stages((Document(str(i), t, "b", "x") for i, t in enumerate(docs)), stages, stats))
    elapsed = time.perf_counter() - start
    print(f"\n== full web_zh chain: {len(docs) / elapsed:.1f} docs/s on 1 core; kept {kept}/{len(docs)}; "
          f"top rejections {stats.rejected.most_common(5)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    docs = build_corpus(args.docs, args.seed)
    cfg = zh_config()
    bench_segmenters(docs)
    report_filters(docs, cfg)
    report_chain(docs, cfg)


if __name__ == "__main__":
    main()
