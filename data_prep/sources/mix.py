"""``source=mix``: several sources in one prep run, each with its own licence and pipeline, one tokenizer.

``source.sources`` lists entries; each names an optional source preset (``source: local``) plus any
``source.*`` keys, and the pipeline preset its documents go through (``pipeline: web_zh``; default: the
run's ``pipeline``). Entries are completed from conf/ exactly like a top-level source or pipeline
(``prep_defaults`` first, then the preset, then the entry's keys) and type-checked: a typo is one error
line naming ``source.sources[i].<key>``.

Records are read source after source (deterministic; the resumable state is the entry index plus that
source's own state). Every document keeps its own ``source`` name and ``licence``, so the manifest's
provenance (docs / tokens per source and licence) is per entry, and ``SourceRouter`` sends it through its
entry's stages; rejections are counted as ``mix/<source>/<stage>/<reason>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data_prep.sources.base import RawRecord
from openpretrain.errors import ConfigError

# record meta set here and read (and removed) by to_documents: the entry a record came from
SOURCE_KEY, LICENSE_KEY, SYNTHETIC_KEY = "_mix_source", "_mix_license", "_mix_synthetic"
_ENTRY_ONLY = ("source", "pipeline")


@dataclass
class MixEntry:
    source: Any  # SourceConfig
    pipeline: Any  # PipelineConfig, or None: the run's own pipeline


def _load(group: str, name: str, key: str) -> Any:
    from openpretrain.cli import CONFIG_PATH

    path = os.path.join(CONFIG_PATH, group, f"{name}.yaml")
    if not os.path.isfile(path):
        options = sorted(f[:-5] for f in os.listdir(os.path.join(CONFIG_PATH, group)) if f.endswith(".yaml"))
        raise ConfigError(key, f"no {group} preset {name!r}; have: {', '.join(options)}")
    return OmegaConf.load(path)


def _typed(schema: type, parts: list[Any], key: str) -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), *parts))
    except OmegaConfBaseException as exc:
        raise ConfigError(key, str(exc).splitlines()[0]) from exc


def mix_entries(cfg: Any) -> list[MixEntry]:
    """The typed (source, pipeline) of every ``source.sources`` entry."""
    from data_prep.config import PipelineConfig, SourceConfig, SourceKind

    entries = []
    names: set[str] = set()
    for i, raw in enumerate(cfg.sources):
        key = f"source.sources[{i}]"
        raw = dict(raw)
        source_parts = [_load("prep_defaults", "source", key)]
        if raw.get("source"):
            source_parts.append(_load("source", raw["source"], f"{key}.source"))
        source_parts.append({k: v for k, v in raw.items() if k not in _ENTRY_ONLY})
        source = _typed(SourceConfig, source_parts, key)
        if source.kind == SourceKind.mix:
            raise ConfigError(f"{key}.kind", "a mix cannot contain another mix")
        if source.name in names:
            raise ConfigError(f"{key}.name", f"{source.name!r} names two entries; each needs its own name")
        names.add(source.name)
        pipeline = None
        if raw.get("pipeline"):
            pipeline = _typed(PipelineConfig, [_load("prep_defaults", "pipeline", key),
                                               _load("pipeline", raw["pipeline"], f"{key}.pipeline")], f"{key}.pipeline")
        entries.append(MixEntry(source, pipeline))
    if not entries:
        raise ConfigError("source.sources", "source=mix needs at least one entry")
    return entries


class MixSource:
    """This task's share of every entry, one entry after the other."""

    def __init__(self, cfg: Any, task_id: int, num_tasks: int) -> None:
        from data_prep.sources import build_source

        self.name = cfg.name
        self.entries = mix_entries(cfg)
        self.sources = [build_source(e.source, task_id, num_tasks) for e in self.entries]
        self._index = 0

    def state(self) -> dict[str, Any]:
        return {"index": self._index, "inner": self.sources[self._index].state()
                if self._index < len(self.sources) else None}

    def records(self, state: dict[str, Any] | None) -> Iterator[RawRecord]:
        self._index = int(state["index"]) if state else 0
        inner = state["inner"] if state else None
        while self._index < len(self.sources):
            entry = self.entries[self._index].source
            for record in self.sources[self._index].records(inner):
                record.meta = {**record.meta, SOURCE_KEY: entry.name, LICENSE_KEY: entry.license,
                               SYNTHETIC_KEY: entry.synthetic}
                yield record
            self._index, inner = self._index + 1, None
