"""Where a synthetic-data stage keeps its run-wide state: ``OUT/_prep/stages/<stage>/`` (atomic files)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from data_prep.output.shards import write_atomic
from data_prep.runner.out_dir import WORK_DIR_NAME
from openpretrain.errors import UserError

SUMMARY = "summary.json"  # written last: its presence means the stage's state is complete


def stage_dir(prep_cfg: Any, name: str) -> str:
    if prep_cfg is None:
        raise ValueError(f"stage {name} needs the whole PrepConfig (build it with build_doc_stages)")
    return os.path.join(os.path.abspath(prep_cfg.out_dir), WORK_DIR_NAME, "stages", name)


def prepared_once(folder: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The stored summary, or ``compute()`` (which writes the state files) and store its summary."""
    path = os.path.join(folder, SUMMARY)
    if os.path.exists(path):
        return read_summary(folder)
    summary = compute()
    write_atomic(path, json.dumps(summary, indent=1, sort_keys=True).encode("utf-8"))
    return summary


def read_summary(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, SUMMARY)
    if not os.path.exists(path):
        raise UserError(f"{folder}: the stage was not prepared (the run's prepare step did not finish); rerun")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def real_data(prep_cfg: Any) -> str:
    path = prep_cfg.pipeline.real_data
    if not path or not os.path.isfile(os.path.join(path, "manifest.json")):
        raise UserError(f"pipeline.real_data: no prepared dataset (manifest.json) at {path}")
    return path
