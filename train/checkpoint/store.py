"""Contract 4: checkpoints under ``run_dir/checkpoints/step_N/``.

Layout of one checkpoint (DeepSpeed writes the tensors, we write the rest)::

    step_N/mp_rank_00_model_states.pt, zero_pp_rank_*...   DeepSpeed save_checkpoint (client state inside)
    step_N/client_state.json                               the same client state minus RNG (cheap to read)
    step_N/FILES.json                                      size + sha256 of every file above (verify on resume)
    step_N/COMPLETE                                        marker: written last, after every rank saved
    step_N/universal/                                      made on demand when the world size changes
    latest                                                 "step_N", moved only after the marker

A checkpoint without its marker is an interrupted save: it is never loaded and is deleted on the next
start. A complete checkpoint whose files no longer match FILES.json (overwritten, truncated) is damaged:
``verify`` names the first bad file. Only the checkpoint manager (train.checkpoint.manager) writes here;
readers outside training (export, generate, evaluate) use ``latest_complete`` and ``read_client_state``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from typing import Any

from openpretrain.manifest import file_sha256

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
MARKER = "COMPLETE"
FILES_JSON = "FILES.json"
LATEST = "latest"
CLIENT_STATE_JSON = "client_state.json"
UNIVERSAL_TAG = "universal"
STEP_PREFIX = "step_"
_STEP_DIR = re.compile(rf"^{STEP_PREFIX}(\d+)$")


@dataclass(frozen=True)
class CheckpointRef:
    path: str  # run_dir/checkpoints/step_N
    step: int
    marker: dict[str, Any]  # step, world_size, zero_stage, time

    @property
    def tag(self) -> str:
        return os.path.basename(self.path)

    @property
    def root(self) -> str:
        return os.path.dirname(self.path)

    @property
    def world_size(self) -> int:
        return int(self.marker["world_size"])

    @property
    def zero_stage(self) -> int:
        return int(self.marker["zero_stage"])


def checkpoints_dir(run_dir: str) -> str:
    return os.path.join(run_dir, CHECKPOINTS_DIR)


def tag_for(step: int) -> str:
    return f"{STEP_PREFIX}{step}"


def _step_dirs(root: str) -> list[tuple[int, str]]:
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        match = _STEP_DIR.match(name)
        if match and os.path.isdir(os.path.join(root, name)):
            found.append((int(match.group(1)), os.path.join(root, name)))
    return sorted(found)


def _read_marker(path: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None


def complete_checkpoints(run_dir: str) -> list[CheckpointRef]:
    """Every checkpoint whose marker exists, oldest first."""
    refs = []
    for step, path in _step_dirs(checkpoints_dir(run_dir)):
        marker = _read_marker(path)
        if marker is not None:
            refs.append(CheckpointRef(path, step, marker))
    return refs


def latest_complete(run_dir: str) -> CheckpointRef | None:
    """The newest complete checkpoint of a run dir, or None. (The marker decides, not the ``latest`` file.)"""
    refs = complete_checkpoints(run_dir)
    return refs[-1] if refs else None


def read_client_state(ref: CheckpointRef) -> dict[str, Any]:
    """Client state of a checkpoint: step, tokens_seen, data position, wandb_run_id, config, model_args."""
    with open(os.path.join(ref.path, CLIENT_STATE_JSON), encoding="utf-8") as fh:
        return json.load(fh)


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_incomplete(run_dir: str) -> list[str]:
    """Delete checkpoint dirs without a marker (interrupted saves). Rank 0 only, before anyone saves."""
    removed = []
    for _, path in _step_dirs(checkpoints_dir(run_dir)):
        if _read_marker(path) is None:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def prune(run_dir: str, keep: int) -> list[str]:
    """Keep the ``keep`` newest complete checkpoints; older ones (and stray incomplete ones) go."""
    complete = complete_checkpoints(run_dir)
    keep_paths = {ref.path for ref in complete[-keep:]}
    newest = complete[-1].step if complete else -1
    removed = []
    for step, path in _step_dirs(checkpoints_dir(run_dir)):
        if path not in keep_paths and step < newest:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed




def _checkpoint_files(path: str) -> list[str]:
    """Relative paths of the files a save wrote (not the marker, the digest list, or a later universal copy)."""
    found = []
    for folder, dirs, files in os.walk(path):
        if folder == path:
            dirs[:] = [d for d in dirs if not d.startswith(UNIVERSAL_TAG)]
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), path)
            if rel not in (MARKER, FILES_JSON):
                found.append(rel)
    return sorted(found)


def write_digests(path: str) -> dict[str, dict[str, Any]]:
    """Record size and sha256 of every file of a saved checkpoint, before its marker is written."""
    files = {rel: {"bytes": os.path.getsize(os.path.join(path, rel)), "sha256": file_sha256(os.path.join(path, rel))}
             for rel in _checkpoint_files(path)}
    write_atomic(os.path.join(path, FILES_JSON), json.dumps(files, indent=1))
    return files


def verify(ref: CheckpointRef) -> str | None:
    """None when every recorded file is there with its size and sha256; else what is wrong, in a few words.

    Sizes are checked first (cheap), then hashes. A checkpoint saved before digests were recorded
    has no FILES.json and is accepted as it is.
    """
    try:
        with open(os.path.join(ref.path, FILES_JSON), encoding="utf-8") as fh:
            files = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        return f"{FILES_JSON} unreadable ({exc})"
    for rel, want in files.items():
        full = os.path.join(ref.path, rel)
        if not os.path.isfile(full):
            return f"{rel} is missing"
        if os.path.getsize(full) != want["bytes"]:
            return f"{rel} has {os.path.getsize(full)} bytes, {want['bytes']} were saved"
    for rel, want in files.items():
        if file_sha256(os.path.join(ref.path, rel)) != want["sha256"]:
            return f"{rel} does not match the sha256 recorded at save"
    return None
