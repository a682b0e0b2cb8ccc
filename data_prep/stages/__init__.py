"""Document stages, in the order a document meets them: split -> clean -> the enabled filters -> pii.

Documents longer than ``pipeline.max_chars`` are first split into parts (``split.py``). Then
``build_stages(pipeline_cfg)`` returns the enabled per-document stages in their fixed order:

    lang_id -> script -> blocklist -> bad_words -> gopher_repetition -> gopher_quality -> c4 -> fineweb
    -> decontam -> dedup_real -> ppl -> discriminator -> pii
    [-> dedup, when the ids removed by the whole-run dedup step are passed in]

Every word-based stage splits words with the pipeline language's segmenter (``filters/language.py``).
With ``pipeline.bias.enabled`` the text each document leaves with (kept, or rejected by a stage after
language id) is counted by ``bias.BiasCounter``.

dedup_real, ppl and discriminator judge generated text against the real corpus (stages/synthetic/,
conf/pipeline/synthetic.yaml); they need the whole PrepConfig (the real dataset, the work dir).

Cheap, decisive stages run first; C4 rewrites the text (drops lines) before FineWeb looks at it (as in
the FineWeb pipeline); decontamination sees the text before PII placeholders change it; PII scrubbing
runs last so only surviving documents are rewritten. A stage is chosen by its ``pipeline.<key>.enabled``;
a new stage is one row of ``_ORDERED`` plus its config section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from data_prep.document import Document, Stats
from data_prep.output.accounting import length_bin
from data_prep.stages.base import Stage, run_stages
from data_prep.stages.clean import CleanStage
from data_prep.stages.filters.language import Language, language_of
from data_prep.stages.split import split_long_documents

__all__ = ["Stage", "build_doc_stages", "build_stages", "documents", "filter_records", "pipeline_language",
           "run_stages"]


def _ordered() -> list[tuple[str, Callable[[Any, Language, Any], Stage]]]:
    """(pipeline config key, stage factory(section, language, prep_cfg)) in run order; imported here so a
    config check stays cheap."""
    from data_prep.stages.decontam import Decontaminator
    from data_prep.stages.filters.badwords import BadWordsFilter
    from data_prep.stages.filters.blocklist import BlocklistFilter
    from data_prep.stages.filters.c4 import C4Filter
    from data_prep.stages.filters.fineweb import FineWebFilter
    from data_prep.stages.filters.gopher_quality import GopherQualityFilter
    from data_prep.stages.filters.gopher_repetition import GopherRepetitionFilter
    from data_prep.stages.filters.langid import LangIdFilter
    from data_prep.stages.filters.pii import PiiScrubber
    from data_prep.stages.filters.script import ScriptFilter
    from data_prep.stages.synthetic.dedup_real import RealDedupStage
    from data_prep.stages.synthetic.discriminator import DiscriminatorStage
    from data_prep.stages.synthetic.ppl_band import PerplexityBandStage

    def plain(cls: Callable[[Any], Stage]) -> Callable[[Any, Language, Any], Stage]:
        return lambda section, language, prep_cfg: cls(section)

    def worded(cls: Callable[[Any, Language], Stage]) -> Callable[[Any, Language, Any], Stage]:
        return lambda section, language, prep_cfg: cls(section, language)

    def whole_run(cls: Callable[[Any, Any], Stage]) -> Callable[[Any, Language, Any], Stage]:
        return lambda section, language, prep_cfg: cls(section, prep_cfg)

    return [
        ("lang_id", plain(LangIdFilter)), ("script", plain(ScriptFilter)), ("blocklist", plain(BlocklistFilter)),
        ("bad_words", lambda section, language, prep_cfg: BadWordsFilter(section, language.words)),
        ("gopher_repetition", worded(GopherRepetitionFilter)), ("gopher_quality", worded(GopherQualityFilter)),
        ("c4", worded(C4Filter)), ("fineweb", worded(FineWebFilter)), ("decontam", worded(Decontaminator)),
        ("dedup_real", whole_run(RealDedupStage)), ("ppl", whole_run(PerplexityBandStage)),
        ("discriminator", whole_run(DiscriminatorStage)), ("pii", plain(PiiScrubber)),
    ]


def pipeline_language(pipeline_cfg: Any) -> Language:
    """The pipeline's Language; an unknown ``pipeline.language`` is one config error line."""
    if pipeline_cfg.language != "en" or pipeline_cfg.lang_id.enabled:
        from data_prep.stages.filters.langid import check_language

        check_language(pipeline_cfg.language)
    return language_of(pipeline_cfg)


def build_stages(pipeline_cfg: Any, removed: Mapping[str, str] | None = None, prep_cfg: Any = None) -> list[Stage]:
    """The enabled stages of ``pipeline_cfg`` (a PipelineConfig); ``removed``: dedup decisions (id -> reason);
    ``prep_cfg``: the whole PrepConfig, which the synthetic-data stages need (the real dataset, the work dir)."""
    if pipeline_cfg.routes:
        from data_prep.stages.route import routed_stages

        stages = routed_stages(pipeline_cfg, lambda cfg: build_stages(cfg, prep_cfg=prep_cfg))
    else:
        stages = _enabled_stages(pipeline_cfg, prep_cfg)
    if removed is not None:
        from data_prep.dedup.stage import DedupFilter

        stages.append(DedupFilter(removed))
    return stages


def _enabled_stages(pipeline_cfg: Any, prep_cfg: Any) -> list[Stage]:
    language = pipeline_language(pipeline_cfg)
    stages: list[Stage] = []
    for key, make in _ordered():
        section = getattr(pipeline_cfg, key)
        if section.enabled:
            stages.append(make(section, language, prep_cfg))
    return stages


def build_doc_stages(cfg: Any) -> list[Stage]:
    """Cleaning first, then the configured filter stages (cfg: PrepConfig); with source=mix, each entry's."""
    if cfg.source.kind == "mix":
        from data_prep.stages.route import mixed_stages

        return [CleanStage(cfg.pipeline), *mixed_stages(cfg, lambda c: build_stages(c, prep_cfg=cfg))]
    return [CleanStage(cfg.pipeline), *build_stages(cfg.pipeline, prep_cfg=cfg)]


def documents(records: Iterable[Any], cfg: Any, stats: Stats,
              on_reject: Callable[[str, str], None] | None = None) -> Iterator[Document]:
    """Raw records -> Documents, long ones split into parts (cfg: PrepConfig)."""
    from data_prep.sources import to_documents

    docs = split_long_documents(to_documents(records, cfg.source, stats, on_reject), cfg.pipeline.max_chars, stats)
    script = cfg.pipeline.script
    if script.enabled and script.traditional_to_simplified == "keep_both":
        from data_prep.stages.filters.script import simplified_copies

        docs = simplified_copies(docs, stats)
    return docs


def filter_records(records: Iterable[Any], cfg: Any, stages: list[Stage], stats: Stats, lengths_in: Counter,
                   log: Any = None) -> list[Document]:
    """Raw records -> documents that passed every stage; the length histogram is taken before the stages.

    ``log``: a ``data_prep.output.rejects.RejectLog`` that hears every rejection (rejects=true), or None.
    """
    from data_prep.output.rejects import RecordingStage

    on_reject = None if log is None else (lambda rid, reason: log.add(rid, reason, cfg.source.name, None))
    if log is not None:
        stages = [RecordingStage(stage, log) for stage in stages]

    def entering() -> Iterable[Document]:
        for doc in documents(records, cfg, stats, on_reject):
            lengths_in[length_bin(len(doc.text))] += 1
            yield doc

    observe = bias_observer(cfg.pipeline, stats)
    return list(run_stages(entering(), stages, stats, observe))


def bias_observer(pipeline_cfg: Any, stats: Stats, after_dedup: bool = False
                  ) -> Callable[[Document, str | None], None] | None:
    """With ``pipeline.bias.enabled``: count term groups of each document as it leaves the stages.
    ``after_dedup``: the pack phase, where the only stage is the whole-run dedup: a removed duplicate
    moves from kept (counted by the filter phase) to rejected."""
    if not pipeline_cfg.bias.enabled:
        return None
    from data_prep.stages.bias import BiasCounter
    from data_prep.stages.filters.language import words_for_language

    counter = BiasCounter(pipeline_cfg.bias.groups, pipeline_cfg.language,
                          lambda code: words_for_language(code, pipeline_cfg))

    def observe(doc: Document, rejected_by: str | None) -> None:
        if after_dedup:
            if rejected_by is not None:
                counter.observe(doc, True, stats, sign=-1)
                counter.observe(doc, False, stats)
        elif rejected_by not in ("clean", "lang_id"):  # other languages / empty text: not this corpus' text
            counter.observe(doc, rejected_by is None, stats)

    return observe
