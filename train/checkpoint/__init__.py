"""Contract 4 checkpoints: the on-disk layout (store), DeepSpeed's universal format, and the one manager.

Readers outside training (export, generate, evaluate) use the store functions re-exported here;
training goes through ``train.checkpoint.manager.CheckpointManager``.
"""

from train.checkpoint.store import (
    CHECKPOINTS_DIR,
    CLIENT_STATE_JSON,
    FILES_JSON,
    LATEST,
    MARKER,
    UNIVERSAL_TAG,
    CheckpointRef,
    checkpoints_dir,
    complete_checkpoints,
    latest_complete,
    prune,
    read_client_state,
    remove_incomplete,
    tag_for,
    verify,
)

__all__ = ["CHECKPOINTS_DIR", "CLIENT_STATE_JSON", "FILES_JSON", "LATEST", "MARKER", "UNIVERSAL_TAG", "CheckpointRef",
           "checkpoints_dir", "complete_checkpoints", "latest_complete", "prune", "read_client_state",
           "remove_incomplete", "tag_for", "verify"]
