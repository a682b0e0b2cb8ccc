"""openpretrain.wandb_lineage against real offline W&B runs, read back from their .wandb logs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import wandb

from openpretrain import wandb_lineage
from tests.wandb_offline import offline_runs

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def own_wandb_service():
    """wandb.init exports WANDB_SERVICE; later subprocesses must not share this test's service."""
    yield
    wandb.teardown()
    os.environ.pop("WANDB_SERVICE", None)


def _run(directory: Path, job_type: str):
    return wandb.init(mode="offline", dir=str(directory), project="lineage-test", job_type=job_type)


def _checkpoint(tmp_path: Path, step: int) -> Path:
    directory = tmp_path / "train" / "checkpoints" / f"step_{step}"
    directory.mkdir(parents=True)
    (directory / "model_states.pt").write_bytes(b"weights")
    return directory


def test_generated_dataset_is_linked_to_its_generator_checkpoint(tmp_path: Path, prepared_dir: Path) -> None:
    """The loop's edge: generator model (step_N of a training run) -> generation run -> synthetic dataset."""
    checkpoint = _checkpoint(tmp_path, 7)
    train = _run(tmp_path / "train", "train")
    assert wandb_lineage.use_dataset(train, prepared_dir)
    assert wandb_lineage.log_checkpoint(train, checkpoint, step=7)
    train_id = train.id
    train.finish()
    generate = _run(tmp_path / "generate", "generate")
    assert wandb_lineage.log_generated_dataset(generate, prepared_dir, checkpoint, train_id, 7, aliases=["round_0"])
    generate.finish()

    [trained] = offline_runs(tmp_path / "train")
    [generated] = offline_runs(tmp_path / "generate")
    [model] = [a for a in trained.logged_artifacts() if a.type == "model"]
    assert model.name == f"model-{train_id}" and sorted(model.aliases) == ["latest", "step_7"]
    assert all(entry.ref.startswith("file://") for entry in model.manifest.contents), "checkpoint by reference"
    [used_model] = generated.used_artifacts()
    assert (used_model.type, used_model.name, used_model.digest) == ("model", model.name, model.digest)
    [dataset] = [a for a in generated.logged_artifacts() if a.type == "dataset" and not a.use_after_commit]
    assert sorted(dataset.aliases) == ["latest", "round_0"]
    [used_by_training] = trained.used_artifacts()
    assert (used_by_training.name, used_by_training.digest) == (dataset.name, dataset.digest)


def test_dataset_artifact_holds_small_files_and_references_the_shards(prepared_dir: Path) -> None:
    artifact = wandb_lineage.dataset_artifact(prepared_dir)
    manifest = json.loads((prepared_dir / "manifest.json").read_text())
    entries = artifact.manifest.entries
    assert artifact.type == "dataset" and artifact.name == f"dataset-{prepared_dir.name}"
    assert {"manifest.json", "tokenizer.json"} <= {p for p, e in entries.items() if not e.ref}
    shards = {p: e.ref for p, e in entries.items() if e.ref}
    files = [s[key] for s in manifest["shards"] for key in ("path", "index")]
    assert shards == {f: (prepared_dir / f).resolve().as_uri() for f in files}
    assert artifact.metadata["shards"] == len(manifest["shards"])


def test_a_wandb_failure_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = _run(tmp_path, "train")
    try:
        assert not wandb_lineage.use_dataset(run, tmp_path / "no-such-dataset")
    finally:
        run.finish()
    assert "W&B: could not declare dataset" in caplog.text
