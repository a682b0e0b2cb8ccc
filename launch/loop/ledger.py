"""``loop.dir/loop.json`` (the ledger, deliverable 7's exact shape) and per-step completion markers.

The ledger is rewritten atomically (temp file, then rename) after every round. Recording a round
replaces an existing entry of the same round instead of appending a second one, so a driver resumed
after a kill, which redoes the round's ``decide`` step, writes the same file as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpretrain.errors import UserError

LEDGER_FILE = "loop.json"
STEPS = ("synthesize", "train", "evaluate", "memorize", "decide")  # synthesize = generate + prep (one data_prep run)
ROUND_ZERO_STEPS = ("train", "evaluate", "memorize", "decide")  # round 0 trains on real data only
ROUND_KEYS = ("round", "checkpoint", "real_val_bpb", "synthetic_share", "synthetic_kept", "synthetic_rejected",
              "distinct_2", "tail_mass", "discriminator_accuracy", "memorization")
MEMORIZATION_KEYS = ("exact_match_rate", "control_exact_match_rate")


@dataclass(frozen=True)
class RoundRecord:
    round: int
    checkpoint: str
    real_val_bpb: float
    synthetic_share: float
    synthetic_kept: int
    synthetic_rejected: dict[str, int]  # "stage/reason" -> documents
    distinct_2: float
    tail_mass: float
    discriminator_accuracy: float | None  # None in round 0 and when the discriminator is off
    exact_match_rate: float
    control_exact_match_rate: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "checkpoint": self.checkpoint,
            "real_val_bpb": self.real_val_bpb,
            "synthetic_share": self.synthetic_share,
            "synthetic_kept": self.synthetic_kept,
            "synthetic_rejected": dict(sorted(self.synthetic_rejected.items())),
            "distinct_2": self.distinct_2,
            "tail_mass": self.tail_mass,
            "discriminator_accuracy": self.discriminator_accuracy,
            "memorization": {"exact_match_rate": self.exact_match_rate,
                             "control_exact_match_rate": self.control_exact_match_rate},
        }


def empty_ledger() -> dict[str, Any]:
    return {"rounds": [], "stopped": None}


def ledger_path(loop_dir: str | Path) -> Path:
    return Path(loop_dir) / LEDGER_FILE


def _atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_shape(ledger: Any, path: Path) -> None:
    """One line naming what is wrong: the ledger is read by checks and by a resumed driver."""
    if not isinstance(ledger, dict) or set(ledger) != {"rounds", "stopped"}:
        raise UserError(f"{path}: not a loop ledger (expected the keys 'rounds' and 'stopped')")
    for i, entry in enumerate(ledger["rounds"]):
        if not isinstance(entry, dict) or tuple(entry) != ROUND_KEYS:
            raise UserError(f"{path}: rounds[{i}] must have exactly the keys {list(ROUND_KEYS)}")
        if entry["round"] != i:
            raise UserError(f"{path}: rounds[{i}] is round {entry['round']}; rounds must be 0, 1, 2, ...")
        if not isinstance(entry["memorization"], dict) or tuple(entry["memorization"]) != MEMORIZATION_KEYS:
            raise UserError(f"{path}: rounds[{i}].memorization must have exactly the keys {list(MEMORIZATION_KEYS)}")
    stopped = ledger["stopped"]
    if stopped is not None and (not isinstance(stopped, dict) or set(stopped) != {"round", "reason"}):
        raise UserError(f"{path}: 'stopped' must be null or {{\"round\": r, \"reason\": \"...\"}}")


def load_ledger(loop_dir: str | Path) -> dict[str, Any]:
    """The ledger, or an empty one when the loop has not finished a round yet."""
    path = ledger_path(loop_dir)
    if not path.exists():
        return empty_ledger()
    try:
        ledger = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); restore or delete it") from None
    _check_shape(ledger, path)
    return ledger


def record_round(loop_dir: str | Path, record: RoundRecord) -> dict[str, Any]:
    """Write round ``record.round`` into the ledger: replace it if present, else append it as the next."""
    ledger = load_ledger(loop_dir)
    rounds = ledger["rounds"]
    if record.round > len(rounds):
        raise UserError(f"loop: cannot record round {record.round} before round {len(rounds)}")
    if record.round < len(rounds):
        rounds[record.round] = record.to_dict()
    else:
        rounds.append(record.to_dict())
    _atomic_write_json(ledger_path(loop_dir), ledger)
    return ledger


def record_stop(loop_dir: str | Path, round_index: int, reason: str) -> dict[str, Any]:
    ledger = load_ledger(loop_dir)
    ledger["stopped"] = {"round": round_index, "reason": reason}
    _atomic_write_json(ledger_path(loop_dir), ledger)
    return ledger


def round_dir(loop_dir: str | Path, round_index: int) -> Path:
    return Path(loop_dir) / f"round_{round_index}"


def steps_of(round_index: int) -> tuple[str, ...]:
    return ROUND_ZERO_STEPS if round_index == 0 else STEPS


def marker_path(loop_dir: str | Path, round_index: int, step: str) -> Path:
    if step not in steps_of(round_index):
        raise ValueError(f"round {round_index} has no step {step!r} (steps: {', '.join(steps_of(round_index))})")
    return round_dir(loop_dir, round_index) / f"{step}.done"


def mark_done(loop_dir: str | Path, round_index: int, step: str, payload: dict[str, Any] | None = None) -> None:
    """Written only after the step's outputs are complete; the payload carries what later steps need."""
    _atomic_write_json(marker_path(loop_dir, round_index, step), payload or {})


def read_marker(loop_dir: str | Path, round_index: int, step: str) -> dict[str, Any] | None:
    """The step's payload, or None when the step has not completed."""
    path = marker_path(loop_dir, round_index, step)
    return json.loads(path.read_text()) if path.exists() else None


def next_step(loop_dir: str | Path, rounds: int) -> tuple[int, str] | None:
    """The first (round, step) without a marker, in execution order; None when the loop is finished
    (every round done, or the ledger records an early stop)."""
    if load_ledger(loop_dir)["stopped"] is not None:
        return None
    for round_index in range(rounds):
        for step in steps_of(round_index):
            if not marker_path(loop_dir, round_index, step).exists():
                return round_index, step
    return None
