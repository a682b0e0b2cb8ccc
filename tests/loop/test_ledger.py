"""launch.loop.ledger: the exact loop.json shape, idempotent rounds, markers, resume order."""

from __future__ import annotations

import json

import pytest

from launch.loop.ledger import (
    RoundRecord,
    load_ledger,
    mark_done,
    marker_path,
    next_step,
    read_marker,
    record_round,
    record_stop,
)
from openpretrain.errors import UserError


def record(r: int, bpb: float = 1.5, **changes) -> RoundRecord:
    fields = dict(round=r, checkpoint=f"/runs/x/checkpoints/step_{(r + 1) * 10}", real_val_bpb=bpb,
                  synthetic_share=0.0 if r == 0 else 0.2, synthetic_kept=0 if r == 0 else 40,
                  synthetic_rejected={} if r == 0 else {"ppl/above_band": 3, "dedup/real_near_dup": 2},
                  distinct_2=0.6, tail_mass=0.1, discriminator_accuracy=None if r == 0 else 0.7,
                  exact_match_rate=0.0, control_exact_match_rate=0.0)
    return RoundRecord(**{**fields, **changes})


def test_ledger_has_exactly_the_documented_shape(tmp_path):
    record_round(tmp_path, record(0))
    record_round(tmp_path, record(1))
    data = json.loads((tmp_path / "loop.json").read_text())
    assert list(data) == ["rounds", "stopped"] and data["stopped"] is None
    assert data["rounds"][1] == {
        "round": 1, "checkpoint": "/runs/x/checkpoints/step_20", "real_val_bpb": 1.5, "synthetic_share": 0.2,
        "synthetic_kept": 40, "synthetic_rejected": {"dedup/real_near_dup": 2, "ppl/above_band": 3},
        "distinct_2": 0.6, "tail_mass": 0.1, "discriminator_accuracy": 0.7,
        "memorization": {"exact_match_rate": 0.0, "control_exact_match_rate": 0.0}}
    record_stop(tmp_path, 1, "no progress")
    assert load_ledger(tmp_path)["stopped"] == {"round": 1, "reason": "no progress"}


def test_rerecording_a_round_gives_the_same_file(tmp_path):
    record_round(tmp_path, record(0))
    record_round(tmp_path, record(1))
    once = (tmp_path / "loop.json").read_bytes()
    record_round(tmp_path, record(1))  # a resumed driver redoing round 1's decide step
    assert (tmp_path / "loop.json").read_bytes() == once
    record_round(tmp_path, record(1, bpb=1.4))
    assert [r["real_val_bpb"] for r in load_ledger(tmp_path)["rounds"]] == [1.5, 1.4]
    assert not list(tmp_path.glob(".loop.json.tmp*"))  # atomic write leaves no temp file


def test_rounds_cannot_skip_and_a_broken_ledger_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="cannot record round 1 before round 0"):
        record_round(tmp_path, record(1))
    (tmp_path / "loop.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_ledger(tmp_path)
    (tmp_path / "loop.json").write_text(json.dumps({"rounds": [{"round": 0}], "stopped": None}))
    with pytest.raises(UserError, match=r"rounds\[0\] must have exactly the keys"):
        load_ledger(tmp_path)


def test_markers_drive_the_resume_order(tmp_path):
    assert next_step(tmp_path, rounds=2) == (0, "train")  # round 0 has no synthesize step
    for step in ("train", "evaluate", "memorize", "decide"):
        mark_done(tmp_path, 0, step, {"checkpoint": "c0"} if step == "train" else None)
    assert next_step(tmp_path, rounds=2) == (1, "synthesize")
    assert read_marker(tmp_path, 0, "train") == {"checkpoint": "c0"} and read_marker(tmp_path, 1, "train") is None
    mark_done(tmp_path, 1, "synthesize")
    assert next_step(tmp_path, rounds=2) == (1, "train")
    assert marker_path(tmp_path, 1, "train") == tmp_path / "round_1" / "train.done"
    with pytest.raises(ValueError, match="round 0 has no step 'synthesize'"):
        marker_path(tmp_path, 0, "synthesize")
    record_round(tmp_path, record(0))
    record_stop(tmp_path, 0, "test")
    assert next_step(tmp_path, rounds=2) is None  # a stopped loop has nothing left to run
