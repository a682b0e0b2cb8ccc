"""Reading jsonl files that a running process may still be appending to."""

from __future__ import annotations

import json
from pathlib import Path


def complete_records(path: Path) -> list[dict]:
    """Every complete line of ``path`` as a dict; a half-written last line (no newline yet) is left out."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]
