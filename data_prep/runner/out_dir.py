"""The out_dir of a run: one configuration per folder, and a safe way to replace an old run.

``_prep/config.json`` records the keys that shape the output; a rerun with a different value is refused
(its shards would not fit the old ones) unless ``overwrite=true``, which deletes only what data_prep
writes there (see ``OUTPUT_NAMES``) and starts afresh. Anything else in the folder is left alone.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from typing import Any

from data_prep.output.shards import write_atomic
from openpretrain.errors import UserError

WORK_DIR_NAME = "_prep"  # per-task checkpoints and completion markers live here
# Keys that change how a run executes but not what it produces: free to differ between reruns.
EXECUTION_KEYS = ("out_dir", "task_id", "step", "bucket_id", "num_workers", "chunk_docs", "progress", "report",
                  "keep_intermediate", "checkpoint_every_s", "overwrite", "logger")
# What a run writes directly under out_dir (manifest, tokenizer, shards, rejects, report, work dir).
OUTPUT_NAMES = ("manifest.json", "tokenizer.json", "train", "val", "rejects", "report.html", "report",
                "generated", WORK_DIR_NAME)


def open_out_dir(out_dir: str, resolved: dict[str, Any], overwrite: bool, argv: list[str]) -> str:
    """Create (or check, or clear) out_dir for this config; return its work dir."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f"out_dir {out_dir} is an existing file, not a folder; choose another out_dir=")
    work_dir = os.path.join(out_dir, WORK_DIR_NAME)
    current = _fingerprint(resolved)
    changed = _changed_keys(work_dir, current)
    if changed and overwrite:
        clear_outputs(out_dir)
        print(f"overwrite=true: removed the previous run in {out_dir} (it differed in: {', '.join(changed)})")
    elif changed:
        command = shlex.join(["python", "-m", "data_prep", *[a for a in argv if not a.startswith("overwrite=")],
                              "overwrite=true"])
        raise UserError(f"out_dir {out_dir} holds a run with a different config (differs in: {', '.join(changed)}); "
                        f"use another out_dir, or replace that run with overwrite=true: {command}")
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "config.json")
    if not os.path.exists(path):
        write_atomic(path, json.dumps(current, indent=1, sort_keys=True).encode("utf-8"))
    return work_dir


def clear_outputs(out_dir: str) -> None:
    """Delete what data_prep wrote under out_dir; other files stay."""
    for name in OUTPUT_NAMES:
        path = os.path.join(out_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def _fingerprint(resolved: dict[str, Any]) -> dict[str, Any]:
    """The config keys that shape the output, in their JSON form (so it compares equal once reloaded)."""
    return json.loads(json.dumps({k: v for k, v in resolved.items() if k not in EXECUTION_KEYS}))


def _changed_keys(work_dir: str, current: dict[str, Any]) -> list[str]:
    """Top-level keys whose value differs from the run recorded in work_dir (none when there is none)."""
    path = os.path.join(work_dir, "config.json")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        previous = json.load(fh)
    return sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
