"""launch.loop.metrics: flat per-round metrics and one resumable offline W&B run per loop."""

from __future__ import annotations

import os

import pytest

from launch.loop.metrics import LoopWandb, loop_run_id, round_metrics
from tests.loop.test_ledger import record


def test_round_metrics_are_flat_numbers_without_nulls():
    zero, one = round_metrics(record(0).to_dict()), round_metrics(record(1).to_dict())
    assert zero["round"] == 0 and "loop/discriminator_accuracy" not in zero
    assert one["loop/synthetic_rejected"] == 5 and one["loop/rejected/ppl/above_band"] == 3
    assert one["loop/memorization/control_exact_match_rate"] == 0.0
    assert all(isinstance(v, (int, float)) for v in one.values())


@pytest.fixture
def own_wandb_service():
    """wandb.init exports WANDB_SERVICE; without cleanup, later subprocesses would share this test's service."""
    import wandb

    yield
    wandb.teardown()
    os.environ.pop("WANDB_SERVICE", None)


def test_a_resumed_loop_continues_its_wandb_run(tmp_path, own_wandb_service):
    first_id = loop_run_id(tmp_path)
    for r in (0, 1):  # the driver, then the driver resumed after a kill
        sink = LoopWandb(tmp_path, mode="offline", project="loop-test")
        assert sink.run is not None and sink.run.id == first_id
        sink.log_round(record(r).to_dict())
        sink.finish()
    runs = list((tmp_path / "wandb").glob(f"offline-run-*-{first_id}"))
    assert runs and loop_run_id(tmp_path) == first_id
    LoopWandb(tmp_path, mode="disabled").log_round(record(0).to_dict())  # a no-op, no run dir needed
