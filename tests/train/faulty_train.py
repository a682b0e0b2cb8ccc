"""``python -m tests.train.faulty_train [--nan-at-step N] [--spike-at-step N] [--kill-in-save-at-step N] KEY=VALUE...``

The real ``python -m train``, with faults injected from outside by monkeypatching before it starts (works
under torchrun too: every rank runs this module). Production code carries no fault switches.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def _inject_losses(nan_at: int | None, spike_at: int | None, spike_scale: float) -> None:
    """Rank 0's loss of one step becomes NaN, or is multiplied (once) by ``spike_scale``."""
    from train.loop import Trainer

    forward = Trainer._forward
    spiked: list[int] = []

    def faulty_forward(self, inputs, targets):  # noqa: ANN001, ANN202 - same signature as Trainer._forward
        loss = forward(self, inputs, targets)
        step = self.state.step + 1
        if not self.env.is_main:
            return loss
        if nan_at == step:
            return loss * float("nan")
        if spike_at == step and not spiked:
            spiked.append(step)
            return loss * spike_scale
        return loss

    Trainer._forward = faulty_forward


def _kill_in_save(step: int) -> None:
    """SIGKILL rank 0 after step ``step``'s tensors are on disk and before its digests and marker."""
    from train.checkpoint import store

    write_digests = store.write_digests

    def dying_write_digests(path: str):  # noqa: ANN202 - same as store.write_digests
        if os.path.basename(path) == store.tag_for(step):
            os.kill(os.getpid(), signal.SIGKILL)
        return write_digests(path)

    store.write_digests = dying_write_digests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nan-at-step", type=int)
    parser.add_argument("--spike-at-step", type=int)
    parser.add_argument("--spike-scale", type=float, default=100.0)
    parser.add_argument("--kill-in-save-at-step", type=int)
    faults, overrides = parser.parse_known_args()
    sys.argv = [sys.argv[0], *overrides]
    if faults.nan_at_step is not None or faults.spike_at_step is not None:
        _inject_losses(faults.nan_at_step, faults.spike_at_step, faults.spike_scale)
    if faults.kill_in_save_at_step is not None:
        _kill_in_save(faults.kill_in_save_at_step)
    from train.__main__ import main as train_main

    train_main()


if __name__ == "__main__":
    main()
