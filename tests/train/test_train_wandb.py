"""What a training run shows in W&B, read back from its offline .wandb log (no mock): the resolved config,
the dataset it used, its checkpoints as model artifacts and the generations table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openpretrain import wandb_lineage
from tests.conftest import run_module
from tests.wandb_offline import offline_runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMPTS = ["def ", "The "]


def test_training_run_logs_config_lineage_and_generations(tmp_path: Path, prepared_dir: Path) -> None:
    run_dir = tmp_path / "run"
    run_module("train", f"data.path={prepared_dir}", f"run_dir={run_dir}", "max_steps=4", "micro_batch_size=2",
               "log_every=1", "eval_every=2", "eval_batches=1", "checkpoint_every=2", "logger.mode=offline",
               f"generations.prompts=[{','.join(repr(p) for p in PROMPTS)}]", "generations.max_new_tokens=8")
    [run] = offline_runs(run_dir)

    config = run.config()  # the full resolved Hydra config, nested (searchable in the dashboard)
    assert config["model"]["name"] == "tiny" and config["optim"]["lr"] > 0
    assert config["data"]["path"] == str(prepared_dir) and config["generations"]["max_new_tokens"] == 8

    [used] = run.used_artifacts()  # dataset -> this run
    expected = wandb_lineage.dataset_artifact(prepared_dir)
    assert (used.type, used.name, used.digest) == ("dataset", expected.name, expected.manifest.digest())

    models = [a for a in run.logged_artifacts() if a.type == "model"]
    assert [a.name for a in models] == [f"model-{run.id}"] * 2
    assert [sorted(a.aliases) for a in models] == [["latest", "step_2"], ["latest", "step_4"]]
    for model, step in zip(models, (2, 4)):
        refs = {entry.ref for entry in model.manifest.contents}
        assert refs and all(ref.startswith((run_dir / "checkpoints" / f"step_{step}").as_uri()) for ref in refs)

    rows = run.table("generations")  # every logged table; the last holds every row so far
    last = [r for r in rows if r["step"] == 4]
    assert [(r["step"], r["prompt"]) for r in rows[-4:]] == [(2, "def "), (2, "The "), (4, "def "), (4, "The ")]
    assert all(isinstance(r["continuation"], str) for r in last)
    local = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    assert [(r["step"], r["prompt"], r["continuation"]) for r in local] == [
        (r["step"], r["prompt"], r["continuation"]) for r in rows[-4:]]
