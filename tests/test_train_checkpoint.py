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
