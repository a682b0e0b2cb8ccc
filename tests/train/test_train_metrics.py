"""metrics.jsonl records, W&B offline run ids, throughput/MFU arithmetic."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.train.configs import section
from train.config import LoggerMode
from train.metrics import MetricsLog, Throughput, memory_gb, new_run_id, peak_flops_per_device


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_records_events_and_nonfinite(tmp_path: Path) -> None:
    log = MetricsLog(str(tmp_path), enabled=True)
    log.log({"step": 1, "loss": float("nan"), "lr": 1e-3, "grad_norm": torch.tensor(2.0)})
    log.event("rollback", 5, "rolled back", loss=float("inf"))
    log.close()
    records = _lines(tmp_path / "metrics.jsonl")
    assert records[0] == {"step": 1, "loss": None, "lr": 1e-3, "grad_norm": 2.0}
    assert records[1]["event"] == "rollback" and records[1]["step"] == 5 and records[1]["loss"] is None
    # Appending: a resumed run adds to the same file.
    again = MetricsLog(str(tmp_path), enabled=True)
    again.log({"step": 2, "loss": 1.0})
    again.close()
    assert len(_lines(tmp_path / "metrics.jsonl")) == 3


def test_non_main_ranks_write_nothing(tmp_path: Path) -> None:
    log = MetricsLog(str(tmp_path), enabled=False)
    log.start_wandb(section("logger", mode=LoggerMode.offline), str(tmp_path), new_run_id(), {})
    log.log({"step": 1})
    log.event("resume", 1, "x")
    log.close()
    assert not (tmp_path / "metrics.jsonl").exists() and log.wandb is None


@pytest.fixture
def own_wandb_service():
    """wandb.init exports WANDB_SERVICE; without cleanup, later subprocesses would share this test's service."""
    import wandb

    yield
    wandb.teardown()
    os.environ.pop("WANDB_SERVICE", None)


def test_wandb_offline_run_keeps_its_id(tmp_path: Path, own_wandb_service: None) -> None:
    run_id = new_run_id()
    assert run_id.isalnum() and run_id == run_id.lower()
    cfg = section("logger", mode=LoggerMode.offline, project="p", name="n", group="g", tags=["t"])
    for step in (1, 2):  # a run and its restart
        log = MetricsLog(str(tmp_path), enabled=True)
        log.start_wandb(cfg, str(tmp_path), run_id, {"max_steps": 2})
        log.log({"step": step, "loss": 1.0, "note": "strings stay out of W&B"})
        assert log.wandb.run.id == run_id
        assert run_id in log.wandb.location()
        log.close()
    # Offline run dirs are named by start second + id (W&B adds "-1" when two starts share a second).
    runs = sorted(p.name for p in (tmp_path / "wandb").glob("offline-run-*"))
    assert runs and all(f"-{run_id}" in name for name in runs)


def test_throughput_and_mfu() -> None:
    meter = Throughput(flops_per_token=1e6, peak_flops_total=1e10)
    meter.add(tokens=1000, seconds=0.5)
    meter.add(tokens=1000, seconds=1.5)
    report = meter.report()
    assert report["tokens_per_s"] == pytest.approx(1000.0)
    assert report["step_time"] == pytest.approx(1.0)
    assert report["mfu"] == pytest.approx(0.1)
    assert meter.report()["tokens_per_s"] == 0.0  # reset after each report
    assert Throughput(1e6, None).report()["mfu"] is None


def test_peak_flops_and_memory_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert peak_flops_per_device(None, cpu) is None  # no MFU without a known peak
    assert peak_flops_per_device(123e12, cpu) == 123e12
    assert memory_gb(cpu) > 0


def test_wandb_failure_does_not_stop_training(tmp_path: Path, own_wandb_service: None) -> None:
    (tmp_path / "wandb").write_text("a file where W&B wants its directory")
    log = MetricsLog(str(tmp_path), enabled=True)
    log.start_wandb(section("logger", mode=LoggerMode.offline), str(tmp_path), new_run_id(), {})
    assert log.wandb is None and "not started" in log.wandb_location()
    log.log({"step": 1, "loss": 2.0})
    log.close()
    lines = _lines(tmp_path / "metrics.jsonl")
    assert lines[0]["event"] == "wandb_unavailable" and lines[1] == {"step": 1, "loss": 2.0}


def test_wandb_dying_mid_run_is_a_warning(tmp_path: Path, own_wandb_service: None) -> None:
    """Slurm's scancel TERMs every process of the job, W&B's service too: training keeps logging to jsonl."""
    import wandb

    log = MetricsLog(str(tmp_path), enabled=True)
    log.start_wandb(section("logger", mode=LoggerMode.offline), str(tmp_path), new_run_id(), {})
    log.log({"step": 1, "loss": 2.0})
    wandb.teardown()  # the service is gone, as after the job's TERM
    log.log({"step": 2, "loss": 1.5})
    log.log({"step": 3, "loss": 1.0})
    assert log.wandb is None and log.wandb_location().startswith("stopped (")
    log.close()
    lines = _lines(tmp_path / "metrics.jsonl")
    assert [line.get("step") for line in lines] == [1, 2, 2, 3]
    assert lines[2]["event"] == "wandb_unavailable"
