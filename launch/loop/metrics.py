"""The ledger's per-round metrics in W&B: one W&B run per loop (its group = the loop), a ``round`` axis.

The run id is kept in ``loop.dir/wandb_run_id`` so a resumed driver (or the next round's Slurm job)
continues the same W&B run; a round logged twice after a resume overwrites nothing because W&B plots
by our ``round`` key, not by its own step counter. If W&B cannot start, the loop goes on: loop.json and
loop_report.html hold everything.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROUND_KEY = "round"
RUN_ID_FILE = "wandb_run_id"


def round_metrics(entry: dict[str, Any]) -> dict[str, float | int]:
    """A ledger round as flat numeric W&B metrics (nulls left out; rejections per reason and in total)."""
    metrics: dict[str, Any] = {
        ROUND_KEY: entry["round"],
        "loop/real_val_bpb": entry["real_val_bpb"],
        "loop/synthetic_share": entry["synthetic_share"],
        "loop/synthetic_kept": entry["synthetic_kept"],
        "loop/synthetic_rejected": sum(entry["synthetic_rejected"].values()),
        "loop/distinct_2": entry["distinct_2"],
        "loop/tail_mass": entry["tail_mass"],
        "loop/discriminator_accuracy": entry["discriminator_accuracy"],
        "loop/memorization/exact_match_rate": entry["memorization"]["exact_match_rate"],
        "loop/memorization/control_exact_match_rate": entry["memorization"]["control_exact_match_rate"],
    }
    metrics.update({f"loop/rejected/{reason}": n for reason, n in entry["synthetic_rejected"].items()})
    return {k: v for k, v in metrics.items() if v is not None}


def loop_run_id(loop_dir: str | Path) -> str:
    """The loop's W&B run id, created once and then read back."""
    path = Path(loop_dir) / RUN_ID_FILE
    if path.exists():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


class LoopWandb:
    def __init__(self, loop_dir: str | Path, mode: str, project: str | None = None, group: str | None = None,
                 config: dict[str, Any] | None = None) -> None:
        self.run = None
        if mode == "disabled":
            return
        try:
            import wandb

            run_id = loop_run_id(loop_dir)
            self.run = wandb.init(mode=mode, id=run_id, resume="allow", dir=str(loop_dir), project=project,
                                  group=group or f"loop-{run_id}", job_type="loop", config=config or {})
            self.run.define_metric(ROUND_KEY)
            self.run.define_metric("loop/*", step_metric=ROUND_KEY)
        except Exception as exc:  # noqa: BLE001 - any W&B failure; the ledger and the report have everything
            log.warning("W&B could not start for the loop (%s: %s); see loop.json and loop_report.html",
                        type(exc).__name__, exc)
            self.run = None

    def log_round(self, entry: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(round_metrics(entry))

    def link_generated_dataset(self, dataset_dir: str | Path, generator_checkpoint: str | Path,
                               round_index: int) -> None:
        """Lineage: round r's synthetic dataset was made from the checkpoint's model artifact (step_N of the
        training run, which logged it at save). Needs the training run's W&B id from the checkpoint."""
        if self.run is None:
            return
        from openpretrain.wandb_lineage import log_generated_dataset

        client = json.loads((Path(generator_checkpoint) / "client_state.json").read_text())
        train_run_id = client.get("train", {}).get("wandb_run_id")
        if not train_run_id:
            log.warning("round %d: the generator checkpoint has no W&B run id; dataset lineage not linked",
                        round_index)
            return
        log_generated_dataset(self.run, dataset_dir, generator_checkpoint, train_run_id, int(client["step"]),
                              aliases=[f"round_{round_index}"])

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
