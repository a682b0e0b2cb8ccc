"""Where the dedup steps keep their files, and the global document numbers they exchange.

A document is named by a 64-bit number that needs no coordination between tasks:
``task_id << TASK_SHIFT | position``, its position among the task's kept documents (signature files in
order). Limits: 2**40 (1.1e12) documents per task, 2**24 (16.7M) tasks.

``DEDUP_DIR/``
  ``runs/task-KKKKK/``  the task's signatures as sorted runs (``sort_runs``) + ``sorted.json``
  ``bucket-JJJJJ/``     the duplicate groups of key range J (``buckets``); the folder appears complete or not
  ``removed-task-KKKKK.tsv``, ``done``   the decision (``union``)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from data_prep.output.shards import write_atomic
from data_prep.runner.task import read_json  # noqa: F401  (re-exported: the dedup steps read markers)
from data_prep.stages.filters.config import DedupConfig
from openpretrain.errors import UserError

TASK_SHIFT = 40
MAX_TASKS = 1 << 24
POSITION_MASK = np.uint64((1 << TASK_SHIFT) - 1)
KEY_SPACE = 1 << 64
SORTED_MARKER = "sorted.json"
DONE_MARKER = "done"


def doc_numbers(task_id: int, first: int, count: int) -> np.ndarray:
    if task_id >= MAX_TASKS or first + count > 1 << TASK_SHIFT:
        raise UserError(f"dedup: at most {MAX_TASKS} tasks of {1 << TASK_SHIFT} documents each")
    return (np.uint64(task_id) << np.uint64(TASK_SHIFT)) | np.arange(first, first + count, dtype=np.uint64)


def doc_numbers_of_tasks(count: int) -> np.ndarray:
    """The first document number of tasks 0 .. count-1."""
    return np.arange(count, dtype=np.uint64) << np.uint64(TASK_SHIFT)


def position_of(docs: np.ndarray) -> np.ndarray:
    return (docs & POSITION_MASK).astype(np.int64)


def plain_config(cfg: Any) -> DedupConfig:
    """A picklable copy (worker processes get it) of a DedupConfig or its OmegaConf node."""
    return DedupConfig(**{f.name: getattr(cfg, f.name) for f in fields(DedupConfig)})


@dataclass(frozen=True)
class DedupDirs:
    root: str  # the run's work/dedup folder
    num_tasks: int

    def runs(self, task_id: int) -> str:
        return os.path.join(self.root, "runs", f"task-{task_id:05d}")

    def bucket(self, bucket_id: int) -> str:
        return os.path.join(self.root, f"bucket-{bucket_id:05d}")

    def removed(self, task_id: int) -> str:
        return os.path.join(self.root, f"removed-task-{task_id:05d}.tsv")

    @property
    def done(self) -> str:
        return os.path.join(self.root, DONE_MARKER)

    def sorted_marker(self, task_id: int) -> str:
        return os.path.join(self.runs(task_id), SORTED_MARKER)

    def unsorted_tasks(self) -> list[int]:
        return [t for t in range(self.num_tasks) if not os.path.exists(self.sorted_marker(t))]

    def require_sorted(self) -> list[dict[str, Any]]:
        """Every task's sort marker, or one line naming the tasks whose signatures are not sorted yet."""
        missing = self.unsorted_tasks()
        if missing:
            shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
            raise UserError(f"cannot dedup: the signatures of {len(missing)} of {self.num_tasks} tasks are not "
                            f"sorted yet (rerun step=filter task_id=K for task_id {shown})")
        return [read_json(self.sorted_marker(t)) for t in range(self.num_tasks)]


def save_npy(path: str, array: np.ndarray) -> None:
    """Temp name + rename: a killed step never leaves a half array under the final name."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def write_json(path: str, data: dict[str, Any]) -> None:
    """A marker, atomically (the runner's ``write_atomic``); read back with the runner's ``read_json``."""
    write_atomic(path, json.dumps(data).encode("utf-8"))
