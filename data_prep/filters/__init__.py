"""Document filters: quality heuristics, language id, blocklists, decontamination, PII scrubbing.

``build_stages(pipeline_cfg)`` returns the enabled per-document stages in their fixed order:

    lang_id -> blocklist -> gopher_repetition -> gopher_quality -> c4 -> fineweb -> decontam -> pii
    [-> dedup, when the ids removed by the whole-run dedup step are passed in]

Cheap, decisive stages run first; C4 rewrites the text (drops lines) before FineWeb looks at it (as in
the FineWeb pipeline); decontamination sees the text before PII placeholders change it; PII scrubbing
runs last so only surviving documents are rewritten. Each stage counts its rejections as
``<stage>/<reason>`` through ``run_stages``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from data_prep.document import DocStage


def build_stages(pipeline_cfg: Any, removed: Mapping[str, str] | None = None) -> list[DocStage]:
    """The enabled stages of ``pipeline_cfg`` (a PipelineConfig); ``removed``: dedup decisions (id -> reason)."""
    from data_prep.decontam import Decontaminator
    from data_prep.dedup.stage import DedupFilter
    from data_prep.filters.blocklist import BlocklistFilter
    from data_prep.filters.c4 import C4Filter
    from data_prep.filters.fineweb import FineWebFilter
    from data_prep.filters.gopher_quality import GopherQualityFilter
    from data_prep.filters.gopher_repetition import GopherRepetitionFilter
    from data_prep.filters.langid import LangIdFilter
    from data_prep.filters.pii import PiiScrubber

    ordered = [
        (pipeline_cfg.lang_id, LangIdFilter),
        (pipeline_cfg.blocklist, BlocklistFilter),
        (pipeline_cfg.gopher_repetition, GopherRepetitionFilter),
        (pipeline_cfg.gopher_quality, GopherQualityFilter),
        (pipeline_cfg.c4, C4Filter),
        (pipeline_cfg.fineweb, FineWebFilter),
        (pipeline_cfg.decontam, Decontaminator),
        (pipeline_cfg.pii, PiiScrubber),
    ]
    stages: list[DocStage] = [make(cfg) for cfg, make in ordered if cfg.enabled]
    if removed is not None:
        stages.append(DedupFilter(removed))
    return stages


__all__ = ["build_stages"]
