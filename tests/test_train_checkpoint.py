"""Contract-4 bookkeeping on real directories: markers decide completeness, pruning keeps the newest K."""

from __future__ import annotations

import json
from pathlib import Path

from train import checkpoint as ckpt


def _make(run_dir: Path, step: int, complete: bool, world_size: int = 2) -> Path:
    path = run_dir / "checkpoints" / f"step_{step}"
    path.mkdir(parents=True)
    (path / "mp_rank_00_model_states.pt").write_bytes(b"x")
    if complete:
        (path / ckpt.CLIENT_STATE_JSON).write_text(json.dumps({"step": step, "wandb_run_id": "abc"}))
        (path / ckpt.MARKER).write_text(json.dumps({"step": step, "world_size": world_size, "zero_stage": 2}))
    return path


def test_newest_complete_ignores_interrupted_saves(tmp_path: Path) -> None:
    assert ckpt.latest_complete(str(tmp_path)) is None
    _make(tmp_path, 10, True)
    _make(tmp_path, 20, True, world_size=1)
    _make(tmp_path, 30, False)  # killed during save: files but no marker
    (tmp_path / "checkpoints" / "step_x").mkdir()  # not a checkpoint name
    ref = ckpt.latest_complete(str(tmp_path))
    assert (ref.step, ref.tag, ref.world_size, ref.zero_stage) == (20, "step_20", 1, 2)
    assert ref.root == str(tmp_path / "checkpoints")
    assert [r.step for r in ckpt.complete_checkpoints(str(tmp_path))] == [10, 20]
    assert ckpt.read_client_state(ref)["wandb_run_id"] == "abc"


def test_numeric_not_lexical_order(tmp_path: Path) -> None:
    for step in (9, 10, 100):
        _make(tmp_path, step, True)
    assert ckpt.latest_complete(str(tmp_path)).step == 100


def test_remove_incomplete(tmp_path: Path) -> None:
    _make(tmp_path, 10, True)
    broken = _make(tmp_path, 20, False)
    assert ckpt.remove_incomplete(str(tmp_path)) == [str(broken)]
    assert not broken.exists() and ckpt.latest_complete(str(tmp_path)).step == 10


def test_prune_keeps_newest_k_and_never_a_newer_save(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        _make(tmp_path, step, True)
    stale = _make(tmp_path, 25, False)
    in_progress = _make(tmp_path, 50, False)  # newer than every complete one: may be another save
    removed = ckpt.prune(str(tmp_path), keep=2)
    assert sorted(Path(p).name for p in removed) == ["step_10", "step_20", "step_25"]
    assert not stale.exists() and in_progress.exists()
    assert [r.step for r in ckpt.complete_checkpoints(str(tmp_path))] == [30, 40]


def _resume_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir

    from openpretrain.cli import CONFIG_PATH, to_object
    from train.config import register

    register()
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return to_object(compose("train", overrides=["data.path=/d", "run_dir=/r", *overrides]))


def test_resume_plan_same_world_size_and_refusals(tmp_path: Path) -> None:
    import pytest
    import torch

    from openpretrain.errors import UserError
    from train.engine import DistEnv
    from train.resume import plan_resume

    env = DistEnv(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"))
    assert plan_resume(_resume_cfg(), env, str(tmp_path)) is None
    _make(tmp_path, 10, True, world_size=2)  # ZeRO-2 marker
    plan = plan_resume(_resume_cfg("deepspeed=zero2"), env, str(tmp_path))
    assert (plan.tag, plan.universal, plan.load_dir) == ("step_10", False, str(tmp_path / "checkpoints"))
    with pytest.raises(UserError, match="auto_resume=false"):
        plan_resume(_resume_cfg("auto_resume=false"), env, str(tmp_path))
    with pytest.raises(UserError, match="ZeRO stage 2; resuming with stage 0 is not supported"):
        plan_resume(_resume_cfg("deepspeed=zero0"), env, str(tmp_path))
