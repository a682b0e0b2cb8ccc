"""DeepSpeed's universal checkpoint: how a ZeRO checkpoint comes back on another number of ranks."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from typing import Any

from train.checkpoint.store import UNIVERSAL_TAG, CheckpointRef

log = logging.getLogger(__name__)


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
