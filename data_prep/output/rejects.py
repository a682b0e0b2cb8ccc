"""Optional rejects files (``rejects=true``): which document was rejected, by which stage, and why.

``OUT/rejects/<phase>/task-T/<first record position>.jsonl`` — one file per unit of work, written by the
main process in input order. A unit redone after an interruption rewrites its file; files a killed run
wrote beyond the resume point are removed first, so every rejection appears exactly once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from data_prep.document import Document, Stats
from data_prep.output.shards import write_atomic
from data_prep.stages.base import Stage

REJECTS_DIR = "rejects"
POSITION_DIGITS = 12


@dataclass
class RejectLog:
    """Rejections of one unit of work, with the start of each rejected text for inspection."""

    text_chars: int
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, doc_id: str, reason: str, source: str | None, text: str | None, detail: str | None = None) -> None:
        item = {"id": doc_id, "reason": reason, "source": source,
                "text": None if text is None else text[: self.text_chars]}
        if detail:
            item["detail"] = detail  # what the stage matched (e.g. the bad words), for auditing its lists
        self.items.append(item)


class RecordingStage(Stage):
    """Wraps a stage so that its rejections also land in a ``RejectLog`` (counting stays in run_stages)."""

    def __init__(self, stage: Stage, log: RejectLog) -> None:
        self.stage = stage
        self.name = stage.name
        self.log = log

    def setup(self) -> None:
        self.stage.setup()

    def process(self, doc: Document, stats: Stats) -> Document | str:
        text = doc.text  # before the stage rewrites it
        result = self.stage.process(doc, stats)
        if isinstance(result, str):
            self.log.add(doc.id, f"{self.name}/{result}", doc.source, text, getattr(self.stage, "reject_detail", None))
        return result


def rejects_dir(out_dir: str, phase: str, task_id: int) -> str:
    return os.path.join(out_dir, REJECTS_DIR, phase, f"task-{task_id:05d}")


def write_rejects(folder: str, start: int, items: list[dict[str, Any]]) -> None:
    if not items:
        return
    payload = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")
    write_atomic(os.path.join(folder, f"{start:0{POSITION_DIGITS}d}.jsonl"), payload)


def remove_rejects_from(folder: str, position: int) -> None:
    """Delete files of units starting at or after ``position`` (left by a run that was killed later)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        stem = name.split(".", 1)[0]
        if stem.isdigit() and int(stem) >= position:
            os.remove(os.path.join(folder, name))
