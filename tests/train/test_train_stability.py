"""Spike detection and the stop-limits of train/stability.py; the stop-signal flag of train/preemption.py."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest

from openpretrain.errors import UserError
from tests.train.configs import section
from train.preemption import StopRequest
from train.stability import SpikeDetector, StabilityCounters


def test_spike_needs_history_and_factor() -> None:
    det = SpikeDetector(section("stability", spike_factor=2.0, spike_window=4, spike_min_history=3))
    assert not det.is_spike(10.0) and not det.is_spike(10.0)  # too little history to judge
    assert not det.is_spike(10.0)
    assert det.is_spike(25.0)  # > 2 x 10
    assert det.running_mean == pytest.approx(10.0)  # the spike did not join the history
    assert not det.is_spike(19.0)
    assert not det.is_spike(math.nan)  # non-finite steps are handled as skipped steps, not spikes
    for _ in range(4):
        det.is_spike(2.0)
    assert det.running_mean == pytest.approx(2.0)  # the window slides
    assert det.is_spike(4.5)


def test_spike_history_survives_a_checkpoint() -> None:
    """A resumed run judges its next loss exactly as the unbroken run does (the history is saved)."""
    cfg = section("stability", spike_factor=2.0, spike_window=4, spike_min_history=3)
    unbroken, saved = SpikeDetector(cfg), SpikeDetector(cfg)
    for loss in (10.0, 11.0, 9.0, 10.0, 12.0):
        unbroken.is_spike(loss)
        saved.is_spike(loss)
    resumed = SpikeDetector(cfg)
    resumed.load_state_dict(json.loads(json.dumps(saved.state_dict())))  # as client_state.json holds it
    assert resumed.running_mean == unbroken.running_mean
    assert resumed.is_spike(23.0) and unbroken.is_spike(23.0)  # judged at once: no min_history warm-up again
    fresh = SpikeDetector(cfg)
    assert not fresh.is_spike(23.0)  # what a resume without the history did: the spike went through
    old = SpikeDetector(cfg)
    old.load_state_dict(None)  # a checkpoint saved before the history was: starts empty, no error
    assert old.running_mean is None


def test_spike_detection_off() -> None:
    det = SpikeDetector(section("stability", spike_factor=0.0, spike_min_history=1))
    det.is_spike(1.0)
    assert not det.is_spike(1e9)


def test_counters_stop_the_run_past_their_limits() -> None:
    cfg = section("stability", max_skipped_steps=1, max_rollbacks=1)
    counters = StabilityCounters()
    counters.count_skipped(cfg, step=3)
    with pytest.raises(UserError, match="stability.max_skipped_steps=1"):
        counters.count_skipped(cfg, step=4)
    counters.count_rollback(cfg, step=5)
    with pytest.raises(UserError, match="stability.max_rollbacks=1"):
        counters.count_rollback(cfg, step=6)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_stop_request_records_signal_and_restores_handlers(sig: int) -> None:
    before = signal.getsignal(sig)
    stop = StopRequest().install()
    try:
        assert not stop.requested
        os.kill(os.getpid(), sig)
        assert stop.requested and stop.signal == sig
    finally:
        stop.uninstall()
    assert signal.getsignal(sig) == before
