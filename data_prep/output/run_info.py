"""Run-wide facts computed once before the tasks (the generator's identity, a stage's calibration, the
planted canaries), kept as small JSON files in the work dir and merged into the manifest.

``record(work_dir, "provenance", "generator", {...})`` ends up as ``manifest.provenance["generator"]``;
``"stats"`` entries as ``manifest.stats[name]``. Files are written atomically and overwritten with the
same content on a rerun, so the manifest does not depend on how often a run was restarted.
"""

from __future__ import annotations

import json
import os
from typing import Any

from data_prep.output.shards import write_atomic

INFO_DIR = "run_info"
SECTIONS = ("stats", "provenance")


def record(work_dir: str, section: str, name: str, data: Any) -> None:
    if section not in SECTIONS:
        raise ValueError(f"run info section must be one of {SECTIONS}, got {section!r}")
    path = os.path.join(work_dir, INFO_DIR, f"{section}.{name}.json")
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


def load(work_dir: str) -> dict[str, dict[str, Any]]:
    """{"stats": {name: data}, "provenance": {name: data}} of everything recorded."""
    out: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    folder = os.path.join(work_dir, INFO_DIR)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        section, _, rest = name.partition(".")
        if section in SECTIONS and rest.endswith(".json"):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                out[section][rest[: -len(".json")]] = json.load(fh)
    return out
