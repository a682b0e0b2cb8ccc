"""Bilingual (multilingual) runs: each document goes through its own language's pipeline.

``pipeline.routes`` maps a language code to a complete pipeline section, composed by Hydra from a
preset (conf/pipeline/web_zh_en.yaml puts ``pipeline/web`` under ``routes.en``). Language id runs once,
keeping the pipeline's own languages and every routed one at the lowest ``min_score`` of them (each route
then applies its own threshold); then a ``Router`` keyed by language sends a document
labelled ``en`` through the stages (thresholds, segmenter, PII types, ...) of ``routes.en`` and every
other document through the pipeline's own stages. A rejection is counted as
``route/<language>/<stage>/<reason>`` so each language's losses read apart. ``source=mix`` uses the same
router keyed by the document's source (``mix/<source>/<stage>/<reason>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from openpretrain.errors import ConfigError


def route_configs(pipeline_cfg: Any) -> dict[str, Any]:
    """language -> typed, validated PipelineConfig of that route."""
    from data_prep.config import PipelineConfig
    from data_prep.stages.filters.config import validate_filters

    routes = {}
    for language, section in (pipeline_cfg.routes or {}).items():
        key = f"pipeline.routes.{language}"
        try:
            merged = OmegaConf.merge(OmegaConf.structured(PipelineConfig), section)
            route = OmegaConf.to_object(merged)
        except OmegaConfBaseException as exc:
            raise ConfigError(key, str(exc).splitlines()[0]) from exc
        if route.routes:
            raise ConfigError(f"{key}.routes", "a route cannot route further")
        if route.language != language:
            raise ConfigError(f"{key}.language", f"is {route.language!r}; a route's pipeline must be for {language!r}")
        try:
            validate_filters(route)
        except ConfigError as exc:  # name the key inside the route
            raise ConfigError(f"{key}.{exc.key.removeprefix('pipeline.')}", str(exc).split("': ", 1)[-1]) from exc
        routes[language] = route
    return routes


class MinLanguageScore(Stage):
    """A route's own ``lang_id.min_score`` (language id ran once, with the lowest threshold of all)."""

    name = "lang_id"

    def __init__(self, min_score: float) -> None:
        self.min_score = min_score

    def process(self, doc: Document, stats: Stats) -> Document | str:
        return doc if doc.meta.get("language_score", 1.0) >= self.min_score else "low_score"


def _route_stages(cfg: Any, build: Callable[[Any], list[Stage]]) -> list[Stage]:
    own = build(replace(cfg, routes={}, lang_id=replace(cfg.lang_id, enabled=False)))
    return [MinLanguageScore(cfg.lang_id.min_score), *own]


class Router(Stage):
    """Sends each document through the stage list of its key (``key(doc)``; unknown keys: ``default``).
    A rejection is the reason ``<key>/<inner stage>/<reason>``, counted under this router's ``name``."""

    def __init__(self, name: str, key: Callable[[Document], str | None], default: str,
                 stages_by_key: Mapping[str, list[Stage]]) -> None:
        self.name = name
        self.key = key
        self.default = default
        self.stages_by_key = dict(stages_by_key)
        self.reject_detail: str | None = None  # the rejecting inner stage's, for the rejects file

    def setup(self) -> None:
        for stages in self.stages_by_key.values():
            for stage in stages:
                stage.setup()

    def process(self, doc: Document, stats: Stats) -> Document | str:
        key = self.key(doc)
        if key not in self.stages_by_key:
            key = self.default
        self.reject_detail = None
        current: Document | str = doc
        for stage in self.stages_by_key[key]:
            result = stage.process(current, stats)
            if isinstance(result, str):
                self.reject_detail = getattr(stage, "reject_detail", None)
                return f"{key}/{stage.name}/{result}"
            current = result
        return current


def routed_stages(pipeline_cfg: Any, build: Callable[[Any], list[Stage]]) -> list[Stage]:
    """[lang_id keeping every routed language, a Router by language] for a pipeline with routes."""
    from data_prep.stages.filters.langid import LangIdFilter

    routes = route_configs(pipeline_cfg)
    keep = list(dict.fromkeys([*pipeline_cfg.lang_id.keep, *routes]))
    if not pipeline_cfg.lang_id.enabled:
        raise ConfigError("pipeline.lang_id.enabled", "routes need language id (pipeline.lang_id.enabled=true)")
    by_language = {lang: _route_stages(cfg, build) for lang, cfg in {pipeline_cfg.language: pipeline_cfg, **routes}.items()}
    router = Router("route", lambda doc: doc.meta.get("language"), pipeline_cfg.language, by_language)
    lowest = min(cfg.lang_id.min_score for cfg in (pipeline_cfg, *routes.values()))
    return [LangIdFilter(replace(pipeline_cfg.lang_id, keep=keep, min_score=lowest)), router]


def mixed_stages(cfg: Any, build: Callable[[Any], list[Stage]]) -> list[Stage]:
    """source=mix: each entry's documents through its own pipeline's stages (cfg: PrepConfig)."""
    from data_prep.sources.mix import mix_entries

    by_source = {e.source.name: build(e.pipeline or cfg.pipeline) for e in mix_entries(cfg.source)}
    first = next(iter(by_source))
    return [Router("mix", lambda doc: doc.source, first, by_source)]
