"""W&B lineage: prepared datasets and checkpoints as artifacts, and the edges between runs.

The lineage graph a person sees in W&B:  prep run -> dataset -> training run -> model (step_N, latest)
-> generation (the loop's round r) -> synthetic dataset -> next training run. Artifacts hold the small
files (manifest, tokenizer, report); shards (tars and their .idx indexes) and checkpoints are added by
reference (``file://`` URIs, no checksum pass, nothing uploaded), so logging costs a directory listing, not a copy.

A dataset artifact is built the same way by the run that logs it and by every run that uses it: the
same entries give the same digest, so W&B resolves both to one version and draws the edge. W&B
problems never stop the caller: each public function logs a warning and returns False instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATASET = "dataset"
MODEL = "model"
_SMALL_FILES = ("manifest.json", "tokenizer.json", "report.html")
_REPORT_ASSETS = "report"  # data_prep's folder of report PNGs, next to report.html


def artifact_name(prefix: str, label: str) -> str:
    """A valid artifact name (letters, digits, ``-_.``) from a directory name or run id."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', label).strip('-') or 'unnamed'}"


def _uri(path: Path) -> str:
    return path.resolve().as_uri()


def _dataset_metadata(manifest: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    stats, provenance = manifest.get("stats", {}), manifest.get("provenance", {})
    return {"path": str(out_dir.resolve()), "seq_len": manifest.get("seq_len"),
            "vocab_size": manifest.get("tokenizer", {}).get("vocab_size"), "shards": len(manifest["shards"]),
            "samples": stats.get("samples"), "tokens_written": stats.get("tokens_written"),
            "docs_in": stats.get("docs_in"), "docs_written": stats.get("docs_written"),
            "synthetic_token_share": provenance.get("synthetic_token_share")}


def dataset_artifact(out_dir: str | os.PathLike, name: str | None = None):
    """A ``dataset`` artifact of a prepared directory (Contract 2): small files inside, shards by reference."""
    import wandb

    root = Path(out_dir)
    manifest = json.loads((root / "manifest.json").read_text())
    artifact = wandb.Artifact(name or artifact_name(DATASET, root.resolve().name), type=DATASET,
                              metadata=_dataset_metadata(manifest, root))
    for file_name in _SMALL_FILES:
        if (root / file_name).is_file():
            artifact.add_file(str(root / file_name), name=file_name)
    for png in sorted((root / _REPORT_ASSETS).glob("*.png")):
        artifact.add_file(str(png), name=f"{_REPORT_ASSETS}/{png.name}")
    for shard in manifest["shards"]:
        artifact.add_reference(_uri(root / shard["path"]), name=shard["path"], checksum=False)
        if shard.get("index"):  # format 2: the sidecar index of the tar's sample offsets
            artifact.add_reference(_uri(root / shard["index"]), name=shard["index"], checksum=False)
    return artifact


def model_artifact(checkpoint_dir: str | os.PathLike, run_id: str, step: int):
    """A ``model`` artifact of one checkpoint directory, by reference; one artifact (name) per training run."""
    import wandb

    directory = Path(checkpoint_dir)
    artifact = wandb.Artifact(artifact_name(MODEL, run_id), type=MODEL,
                              metadata={"step": step, "path": str(directory.resolve())})
    artifact.add_reference(_uri(directory), checksum=False)
    return artifact


def _safely(what: str, action: Callable[[], None]) -> bool:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - W&B (service, network, API change) must not stop the caller
        log.warning("W&B: could not %s (%s: %s); continuing without it", what, type(exc).__name__, exc)
        return False
    return True


def _declare_input(run, artifact) -> None:
    """``run.use_artifact``; offline W&B refuses it, so record the same use edge for ``wandb sync``."""
    if not run.settings._offline:
        run.use_artifact(artifact)
        return
    # What use_artifact does online for an artifact built here: log it with use_after_commit, which
    # `wandb sync` turns into the same "used by this run" edge.
    run._log_artifact(artifact, is_user_created=True, use_after_commit=True)


def log_dataset(run, out_dir: str | os.PathLike, aliases: list[str] | None = None) -> bool:
    """The run that prepared ``out_dir`` logs it as its output (aliases: ``latest`` plus any given)."""
    return _safely(f"log dataset {out_dir}",
                   lambda: run.log_artifact(dataset_artifact(out_dir), aliases=["latest", *(aliases or [])]))


def use_dataset(run, out_dir: str | os.PathLike) -> bool:
    """The run declares ``out_dir`` (a prepared dataset) as its input: the dataset -> run edge."""
    return _safely(f"declare dataset {out_dir} as input", lambda: _declare_input(run, dataset_artifact(out_dir)))


def log_checkpoint(run, checkpoint_dir: str | os.PathLike, step: int) -> bool:
    """A saved checkpoint as a new version of this run's model artifact, aliases ``step_N`` and ``latest``."""
    return _safely(f"log checkpoint {checkpoint_dir}",
                   lambda: run.log_artifact(model_artifact(checkpoint_dir, run.id, step),
                                            aliases=[f"step_{step}", "latest"]))


def log_generated_dataset(run, dataset_dir: str | os.PathLike, generator_checkpoint: str | os.PathLike,
                          generator_run_id: str, generator_step: int, aliases: list[str] | None = None) -> bool:
    """The self-feedback loop's edge: this run used the generator checkpoint and produced ``dataset_dir``.

    ``generator_run_id`` / ``generator_step`` are the W&B run id and step of the training run that saved
    the checkpoint (its model artifact version, aliased ``step_N``); ``aliases`` e.g. ``["round_3"]``.
    """
    def link() -> None:
        _declare_input(run, model_artifact(generator_checkpoint, generator_run_id, generator_step))
        run.log_artifact(dataset_artifact(dataset_dir), aliases=["latest", *(aliases or [])])

    return _safely(f"link generated dataset {dataset_dir} to {generator_checkpoint}", link)
