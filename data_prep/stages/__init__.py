"""Document stages, in the order a document meets them: clean -> the enabled filters -> decontam -> pii.

``build_stages(pipeline_cfg)`` returns the enabled per-document stages in their fixed order:

    lang_id -> blocklist -> gopher_repetition -> gopher_quality -> c4 -> fineweb -> decontam -> pii
    [-> dedup, when the ids removed by the whole-run dedup step are passed in]

Cheap, decisive stages run first; C4 rewrites the text (drops lines) before FineWeb looks at it (as in
the FineWeb pipeline); decontamination sees the text before PII placeholders change it; PII scrubbing
runs last so only surviving documents are rewritten. A stage is chosen by its ``pipeline.<key>.enabled``;
a new stage is one row of ``_ORDERED`` plus its config section.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from data_prep.document import Document, Stats
from data_prep.output.accounting import length_bin
from data_prep.stages.base import Stage, run_stages
from data_prep.stages.clean import CleanStage

__all__ = ["Stage", "build_doc_stages", "build_stages", "filter_records", "run_stages"]


def _ordered() -> list[tuple[str, Callable[[Any], Stage]]]:
    """(pipeline config key, stage class) in run order; imported here so a config check stays cheap."""
    from data_prep.stages.decontam import Decontaminator
    from data_prep.stages.filters.blocklist import BlocklistFilter
    from data_prep.stages.filters.c4 import C4Filter
    from data_prep.stages.filters.fineweb import FineWebFilter
    from data_prep.stages.filters.gopher_quality import GopherQualityFilter
    from data_prep.stages.filters.gopher_repetition import GopherRepetitionFilter
    from data_prep.stages.filters.langid import LangIdFilter
    from data_prep.stages.filters.pii import PiiScrubber

    return [
        ("lang_id", LangIdFilter), ("blocklist", BlocklistFilter), ("gopher_repetition", GopherRepetitionFilter),
        ("gopher_quality", GopherQualityFilter), ("c4", C4Filter), ("fineweb", FineWebFilter),
        ("decontam", Decontaminator), ("pii", PiiScrubber),
    ]


def build_stages(pipeline_cfg: Any, removed: Mapping[str, str] | None = None) -> list[Stage]:
    """The enabled stages of ``pipeline_cfg`` (a PipelineConfig); ``removed``: dedup decisions (id -> reason)."""
    stages: list[Stage] = []
    for key, make in _ordered():
        section = getattr(pipeline_cfg, key)
        if section.enabled:
            stages.append(make(section))
    if removed is not None:
        from data_prep.dedup.stage import DedupFilter

        stages.append(DedupFilter(removed))
    return stages


def build_doc_stages(cfg: Any) -> list[Stage]:
    """Cleaning first, then the configured filter stages (cfg: PrepConfig)."""
    return [CleanStage(cfg.pipeline), *build_stages(cfg.pipeline)]


def filter_records(records: Iterable[Any], cfg: Any, stages: list[Stage], stats: Stats, lengths_in: Counter,
                   log: Any = None) -> list[Document]:
    """Raw records -> documents that passed every stage; the length histogram is taken before the stages.

    ``log``: a ``data_prep.output.rejects.RejectLog`` that hears every rejection (rejects=true), or None.
    """
    from data_prep.output.rejects import RecordingStage
    from data_prep.sources import to_documents

    on_reject = None if log is None else (lambda rid, reason: log.add(rid, reason, cfg.source.name, None))
    if log is not None:
        stages = [RecordingStage(stage, log) for stage in stages]

    def entering() -> Iterable[Document]:
        for doc in to_documents(records, cfg.source, stats, on_reject):
            lengths_in[length_bin(len(doc.text))] += 1
            yield doc

    return list(run_stages(entering(), stages, stats))
