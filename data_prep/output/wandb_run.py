"""The prep run in W&B: the resolved config, the report's numbers as tables, the dataset as an artifact.

One short run after the manifest and report are written (``logger.mode=online|offline``; ``disabled``
by default for data_prep). Its files go to ``OUT/wandb/`` (W&B's own folder under ``dir``). A W&B failure is a warning: the prepared
data is complete without it.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from openpretrain import wandb_lineage
from openpretrain.logger import LoggerConfig, LoggerMode

log = logging.getLogger(__name__)

REJECTION_COLUMNS = ["stage", "reason", "docs", "share_of_input"]
PROVENANCE_COLUMNS = ["by", "name", "docs", "tokens", "token_share"]


def rejection_rows(stats: dict[str, Any]) -> list[list[Any]]:
    docs_in = stats.get("docs_in") or 0
    rows = []
    for key, count in sorted(stats.get("rejected", {}).items(), key=lambda kv: -kv[1]):
        stage, _, reason = key.partition("/")
        rows.append([stage, reason, count, count / docs_in if docs_in else None])
    return rows


def provenance_rows(provenance: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for by in ("source", "license"):
        tokens = provenance.get(f"tokens_by_{by}", {})
        total = sum(tokens.values())
        for name, docs in sorted(provenance.get(f"docs_by_{by}", {}).items()):
            count = tokens.get(name, 0)
            rows.append([by, name, docs, count, count / total if total else None])
    return rows


def _summary(manifest: dict[str, Any]) -> dict[str, Any]:
    stats, provenance = manifest.get("stats", {}), manifest.get("provenance", {})
    keys = ("docs_in", "docs_written", "tokens_written", "text_bytes")
    return {**{k: stats[k] for k in keys if k in stats}, "shards": len(manifest["shards"]),
            "synthetic_token_share": provenance.get("synthetic_token_share")}


def log_prep_run(logger: LoggerConfig, out_dir: str) -> str | None:
    """Log the finished prep of ``out_dir``; returns where the run is (None when disabled or W&B failed)."""
    if logger.mode == LoggerMode.disabled:
        return None
    mode = LoggerMode(logger.mode).value
    with open(os.path.join(out_dir, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    try:
        import wandb

        run = wandb.init(mode=mode, dir=out_dir, project=logger.project, entity=logger.entity, name=logger.name,
                         group=logger.group, tags=list(logger.tags) or None, job_type="data_prep",
                         config=manifest.get("config") or {})
    except Exception as exc:  # noqa: BLE001 - any W&B failure; the data is complete without it
        log.warning("W&B prep run could not start (%s: %s); the dataset is not logged", type(exc).__name__, exc)
        return None
    try:
        run.log({"rejections": wandb.Table(columns=REJECTION_COLUMNS, data=rejection_rows(manifest.get("stats", {}))),
                 "provenance": wandb.Table(columns=PROVENANCE_COLUMNS,
                                           data=provenance_rows(manifest.get("provenance", {})))})
        run.summary.update(_summary(manifest))
        wandb_lineage.log_dataset(run, out_dir)
        where = run.url if mode == "online" else f"offline at {os.path.dirname(run.dir)}"
    except Exception as exc:  # noqa: BLE001
        log.warning("W&B prep run failed (%s: %s)", type(exc).__name__, exc)
        where = None
    try:
        run.finish()
    except Exception as exc:  # noqa: BLE001
        log.warning("W&B prep run did not finish cleanly (%s: %s)", type(exc).__name__, exc)
    return where
