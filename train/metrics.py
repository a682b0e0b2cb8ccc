"""Contract 5: what a run reports and where. ``run_dir/metrics.jsonl`` always (rank 0), W&B when enabled.

metrics.jsonl holds one JSON object per line: a step record (``step``, ``loss``, ``lr``, ``grad_norm``,
``tokens_per_s``, ``mfu``, ``step_time``, ``memory_gb``, ``data_position``, ``tokens_seen``,
``skipped_steps``, ... and ``val_loss``/``val_ppl``/``val_bpb`` on eval steps) or an event record
(``{"event": "resume" | "rollback" | "preempted" | "skipped_step" | ..., "step": N, ...}``). The file is
append-only: after a crash and resume the steps after the checkpoint appear again; readers take the
last record of a step.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import sys
import time
import uuid
from typing import Any

import torch

from openpretrain import wandb_lineage
from openpretrain.logger import LoggerConfig, LoggerMode

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
WANDB_DIR = "wandb"
STEP_KEY = "step"


def new_run_id() -> str:
    """A W&B-compatible run id (lower-case letters and digits)."""
    return uuid.uuid4().hex[:12]


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: non-finite floats become null (the event records say why)."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class WandbSink:
    """One W&B run per training run: the id comes from the checkpoint, so a resume continues it."""

    def __init__(self, cfg: LoggerConfig, run_dir: str, run_id: str, config: dict[str, Any]) -> None:
        import wandb

        self.mode = cfg.mode.value
        self.run = wandb.init(
            mode=self.mode, id=run_id, resume="allow", dir=run_dir, project=cfg.project, entity=cfg.entity,
            name=cfg.name, group=cfg.group, tags=list(cfg.tags) or None, config=config,
        )
        # Our own step key instead of W&B's monotonic one: after a crash the steps since the checkpoint
        # are logged again, which W&B's internal step would drop.
        self.run.define_metric(STEP_KEY)
        self.run.define_metric("*", step_metric=STEP_KEY)

    def log(self, record: dict[str, Any]) -> None:
        self.run.log({k: v for k, v in record.items() if v is not None and not isinstance(v, str)})

    def location(self) -> str:
        if self.mode == LoggerMode.online.value:
            return f"{self.run.url} (id {self.run.id})"
        run_path = os.path.dirname(self.run.dir)
        return f"offline at {run_path} (id {self.run.id}; upload with `wandb sync {run_path}`)"

    def finish(self) -> None:
        self.run.finish()


class MetricsLog:
    """Rank 0's sinks. Other ranks get an instance that does nothing, so callers need no rank checks."""

    def __init__(self, run_dir: str, enabled: bool) -> None:
        self.enabled = enabled
        self.path = os.path.join(run_dir, METRICS_FILE)
        self._file = open(self.path, "a", encoding="utf-8") if enabled else None  # noqa: SIM115
        self.wandb: WandbSink | None = None
        self.wandb_error: str | None = None
        self.wandb_started = False

    def start_wandb(self, cfg: LoggerConfig, run_dir: str, run_id: str, config: dict[str, Any]) -> None:
        """Start the W&B run; if W&B fails (service, network, credentials) training goes on without it."""
        if not self.enabled or cfg.mode == LoggerMode.disabled:
            return
        try:
            self.wandb = WandbSink(cfg, run_dir, run_id, config)
            self.wandb_started = True
        except Exception as exc:  # noqa: BLE001 - any W&B failure; metrics.jsonl still has everything
            self.wandb_error = f"{type(exc).__name__}: {exc}"
            log.warning("W&B run %s could not start (%s); logging to %s only", run_id, self.wandb_error, self.path)
            self._write({"event": "wandb_unavailable", "run_id": run_id, "error": self.wandb_error,
                         "time": time.time()})

    def wandb_location(self) -> str:
        if self.wandb is not None:
            return self.wandb.location()
        if self.wandb_error:
            return f"{'stopped' if self.wandb_started else 'not started'} ({self.wandb_error})"
        return "disabled (logger.mode=disabled)"

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def log(self, record: dict[str, Any]) -> None:
        record = {k: _clean(v) for k, v in record.items()}
        self._write(record)
        if self.wandb is not None:
            self._to_wandb(lambda sink: sink.log(record), step=record.get(STEP_KEY))

    def _to_wandb(self, action, step: int | None) -> None:
        """Send to W&B; if that fails (its service was killed with the job, network) go on without it."""
        try:
            action(self.wandb)
        except Exception as exc:  # noqa: BLE001 - metrics.jsonl still has everything
            self.wandb_error = f"{type(exc).__name__}: {exc}"
            log.warning("W&B stopped working (%s); logging to %s only", self.wandb_error, self.path)
            self._write({"event": "wandb_unavailable", STEP_KEY: step, "error": self.wandb_error, "time": time.time()})
            self.wandb = None

    def use_datasets(self, paths: list[str]) -> None:
        """Declare the prepared datasets as this run's inputs (the dataset -> run edges in W&B's lineage)."""
        if self.wandb is not None:
            for path in paths:
                wandb_lineage.use_dataset(self.wandb.run, path)

    def log_checkpoint(self, path: str, step: int) -> None:
        """A saved checkpoint as this run's model artifact (by reference), aliases step_N and latest."""
        if self.wandb is not None:
            wandb_lineage.log_checkpoint(self.wandb.run, path, step)

    def log_table(self, key: str, columns: list[str], rows: list[list[Any]], step: int) -> None:
        """A W&B table at this step (the whole table each time: W&B shows the latest one)."""
        if self.wandb is not None:
            import wandb

            self._to_wandb(lambda sink: sink.run.log({key: wandb.Table(columns=columns, data=rows), STEP_KEY: step}),
                           step=step)

    def event(self, name: str, step: int, message: str, **fields: Any) -> None:
        """A notable happening (resume, rollback, preemption ...): a jsonl line and a log line."""
        if not self.enabled:
            return
        self._write({"event": name, STEP_KEY: step, "time": time.time(), **{k: _clean(v) for k, v in fields.items()}})
        log.info("[step %d] %s", step, message)

    def close(self) -> None:
        if self.wandb is not None:
            self._to_wandb(lambda sink: sink.finish(), step=None)
        if self._file is not None:
            self._file.close()
            self._file = None


def memory_gb(device: torch.device) -> float:
    """Peak memory since the last call: GPU allocator peak on CUDA, process peak RSS on CPU."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        return peak / 2**30
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**30 if sys.platform == "darwin" else 2**20)


def peak_flops_per_device(override: float | None, device: torch.device) -> float | None:
    """From config, else train.perf's table for the GPU; None (no MFU) on CPU or an unknown GPU."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    from train.perf import peak_flops_for

    return peak_flops_for(torch.cuda.get_device_name(device))


class Throughput:
    """Tokens/s, step time and MFU over the steps since the last report (training time only)."""

    def __init__(self, flops_per_token: float, peak_flops_total: float | None) -> None:
        self.flops_per_token = flops_per_token
        self.peak_flops_total = peak_flops_total
        self._tokens = 0
        self._seconds = 0.0
        self._steps = 0

    def add(self, tokens: int, seconds: float) -> None:
        self._tokens += tokens
        self._seconds += seconds
        self._steps += 1

    def report(self) -> dict[str, float | None]:
        tokens_per_s = self._tokens / self._seconds if self._seconds > 0 else 0.0
        step_time = self._seconds / self._steps if self._steps else 0.0
        mfu = None
        if self.peak_flops_total:
            mfu = tokens_per_s * self.flops_per_token / self.peak_flops_total
        self._tokens, self._seconds, self._steps = 0, 0.0, 0
        return {"tokens_per_s": tokens_per_s, "step_time": step_time, "mfu": mfu}
