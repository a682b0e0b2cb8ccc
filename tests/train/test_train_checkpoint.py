"""Contract-4 bookkeeping on real directories: markers decide completeness, pruning keeps the newest K."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openpretrain.errors import UserError
from train import checkpoint as ckpt

MODEL_ARGS = {"dim": 128, "n_layers": 4, "n_heads": 4, "n_kv_heads": 2, "ffn_dim": 352, "vocab_size": 512,
              "max_seq_len": 4096, "rope_theta": 10000.0, "norm_eps": 1e-5, "tie_embeddings": False,
              "init_std": 0.02}


def _make(run_dir: Path, step: int, complete: bool, world_size: int = 2) -> Path:
    path = run_dir / "checkpoints" / f"step_{step}"
    path.mkdir(parents=True)
    (path / "mp_rank_00_model_states.pt").write_bytes(b"x")
    if complete:
        (path / ckpt.CLIENT_STATE_JSON).write_text(json.dumps({"step": step, "train": {"wandb_run_id": "abc"}, "model_args": MODEL_ARGS}))
        ckpt.store.write_digests(str(path))
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
    assert ckpt.read_client_state(ref)["train"]["wandb_run_id"] == "abc"


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


def _manager(tmp_path: Path, *overrides: str):
    import torch

    from train.checkpoint.manager import CheckpointManager
    from train.engine import DistEnv

    env = DistEnv(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"))
    return CheckpointManager(_resume_cfg(*overrides), env, str(tmp_path))


def _args(**changes):
    from train.model import ModelArgs

    return ModelArgs(**{**MODEL_ARGS, **changes})


def test_resume_plan_same_world_size_and_refusals(tmp_path: Path, gloo_group: None) -> None:
    assert _manager(tmp_path).plan_resume(_args()) is None
    _make(tmp_path, 10, True, world_size=2)  # ZeRO-2 marker
    plan = _manager(tmp_path, "deepspeed=zero2").plan_resume(_args())
    assert (plan.tag, plan.universal, plan.load_dir) == ("step_10", False, str(tmp_path / "checkpoints"))
    with pytest.raises(UserError, match="auto_resume=false"):
        _manager(tmp_path, "auto_resume=false").plan_resume(_args())
    with pytest.raises(UserError, match="ZeRO stage 2; resuming with stage 0 is not supported"):
        _manager(tmp_path, "deepspeed=zero0").plan_resume(_args())


def test_another_model_in_the_run_dir_is_one_line(tmp_path: Path, gloo_group: None) -> None:
    """Defect 4: what the checkpoint holds, what the config asks, what to do; before DeepSpeed loads."""
    _make(tmp_path, 10, True)
    with pytest.raises(UserError) as err:
        _manager(tmp_path).plan_resume(_args(dim=768, n_layers=12))
    message = str(err.value)
    assert "\n" not in message
    assert "dim=128 (this config: 768)" in message and "n_layers=4 (this config: 12)" in message
    assert "use a new run_dir" in message


def test_digests_name_the_damaged_file(tmp_path: Path) -> None:
    path = _make(tmp_path, 10, True)
    ref = ckpt.latest_complete(str(tmp_path))
    assert ckpt.verify(ref) is None
    files = json.loads((path / ckpt.FILES_JSON).read_text())
    assert set(files) == {"mp_rank_00_model_states.pt", ckpt.CLIENT_STATE_JSON}
    (path / "mp_rank_00_model_states.pt").write_bytes(b"y")  # same size, other bytes
    assert "mp_rank_00_model_states.pt does not match the sha256" in ckpt.verify(ref)
    (path / "mp_rank_00_model_states.pt").write_bytes(b"yy")
    assert "has 2 bytes, 1 were saved" in ckpt.verify(ref)
    (path / "mp_rank_00_model_states.pt").unlink()
    assert "is missing" in ckpt.verify(ref)


def test_damaged_newest_falls_back_with_a_warning(tmp_path: Path, gloo_group: None,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Defect 5: the newest that verifies is resumed; the damaged one is named."""
    _make(tmp_path, 10, True)
    newest = _make(tmp_path, 20, True)
    (newest / "mp_rank_00_model_states.pt").write_bytes(b"z")
    with caplog.at_level("WARNING"):
        plan = _manager(tmp_path).plan_resume(_args())
    assert plan.ref.step == 10
    assert any(str(newest) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)


def test_all_damaged_is_one_line(tmp_path: Path, gloo_group: None) -> None:
    for step in (10, 20):
        (_make(tmp_path, step, True) / "mp_rank_00_model_states.pt").write_bytes(b"z")
    with pytest.raises(UserError) as err:
        _manager(tmp_path).plan_resume(_args())
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"no checkpoint in {tmp_path / 'checkpoints'} verifies (step_20: ")
