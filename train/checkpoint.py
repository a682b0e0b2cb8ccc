"""Contract 4: checkpoints under ``run_dir/checkpoints/step_N/``.

Layout of one checkpoint (DeepSpeed writes the tensors, we write the rest)::

    step_N/mp_rank_00_model_states.pt, zero_pp_rank_*...   DeepSpeed save_checkpoint (client state inside)
    step_N/client_state.json                               the same client state minus RNG (cheap to read)
    step_N/COMPLETE                                        marker: written last, after every rank saved
    step_N/universal/                                      made on demand when the world size changes
    latest                                                 "step_N", moved only after the marker

A checkpoint without its marker is an interrupted save: it is never loaded and is deleted on the next
start. Readers outside training (export, generate, evaluate) use ``latest_complete`` and
``read_client_state``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
MARKER = "COMPLETE"
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


def _write_atomic(path: str, text: str) -> None:
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


def save(
    engine: Any,
    run_dir: str,
    step: int,
    client_state: dict[str, Any],
    json_state: dict[str, Any],
    is_main: bool,
    keep: int,
    kill_before_marker: bool = False,
) -> str:
    """Save on every rank; rank 0 then writes the JSON state, the marker, moves ``latest`` and prunes.

    ``client_state`` goes into DeepSpeed's files (may hold tensors, e.g. RNG states); ``json_state`` is
    its JSON-serialisable part, also written next to them. ``kill_before_marker`` is fault injection:
    rank 0 is SIGKILLed after the tensors are on disk and before the marker (a crash mid-save).
    """
    import torch.distributed as dist

    root = checkpoints_dir(run_dir)
    tag = tag_for(step)
    path = os.path.join(root, tag)
    if is_main and os.path.isdir(path):
        shutil.rmtree(path)  # leftovers of an interrupted save of the same step (files of another world size)
    dist.barrier()
    engine.save_checkpoint(root, tag=tag, client_state=client_state, save_latest=False)  # ends in a barrier
    if is_main:
        if kill_before_marker:
            os.kill(os.getpid(), signal.SIGKILL)
        _write_atomic(os.path.join(path, CLIENT_STATE_JSON), json.dumps(json_state, indent=1))
        marker = {"step": step, "world_size": dist.get_world_size(), "zero_stage": engine.zero_optimization_stage(),
                  "time": time.time()}
        _write_atomic(os.path.join(path, MARKER), json.dumps(marker))
        _write_atomic(os.path.join(root, LATEST), tag)
        for old in prune(run_dir, keep):
            log.info("removed old checkpoint %s", old)
    dist.barrier()
    return path


def universal_info() -> dict[str, Any]:
    """Client-state entry DeepSpeed's ds_to_universal requires (plain data parallel: no TP/PP patterns)."""
    from deepspeed.checkpoint.constants import (
        UNIVERSAL_CHECKPOINT_INFO,
        UNIVERSAL_CHECKPOINT_VERSION_KEY,
        UNIVERSAL_CHECKPOINT_VERSION_VALUE,
    )

    return {UNIVERSAL_CHECKPOINT_INFO: {UNIVERSAL_CHECKPOINT_VERSION_KEY: UNIVERSAL_CHECKPOINT_VERSION_VALUE}}


def ensure_universal(ref: CheckpointRef, workers: int) -> str:
    """Convert a ZeRO checkpoint to DeepSpeed's universal format (once); returns the tag to load.

    Universal checkpoints hold each parameter and its optimizer state unpartitioned, so a run can come
    back on a different number of ranks. The conversion writes into ``step_N/universal.tmp`` and renames
    it when done, so an interrupted conversion is redone rather than half-loaded.
    """
    out = os.path.join(ref.path, UNIVERSAL_TAG)
    if os.path.isdir(out):
        return UNIVERSAL_TAG
    from argparse import Namespace

    from deepspeed.checkpoint.ds_to_universal import main as ds_to_universal

    tmp = f"{out}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("converting %s to a universal checkpoint (world size %d -> new)", ref.path, ref.world_size)
    # The converter prints its progress to stdout; keep it out of the training log unless debugging.
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        ds_to_universal(Namespace(
            input_folder=ref.path, output_folder=tmp, num_extract_workers=workers,
            num_merge_workers=max(1, workers // 2), keep_temp_folder=False, strict=True, inject_missing_state=False,
        ))
    log.debug("ds_to_universal output:\n%s", captured.getvalue())
    os.replace(tmp, out)
    return UNIVERSAL_TAG
