"""``python -m launch.loop.run_step --config=LOOP_DIR/launch/loop_launch.yaml --round=R --step=STEP``

What one Slurm job of the loop runs (launch.loop.slurm_chain): the step, its completion marker, and after
``decide`` the submission of the next round's chain. Not meant to be typed by hand.
"""

from __future__ import annotations

import argparse
import os

from launch.loop import driver, ledger
from launch.loop.slurm_chain import load_config, submit_round
from launch.loop.steps import make_context
from openpretrain.cli import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m launch.loop.run_step")
    parser.add_argument("--config", required=True)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--step", required=True, choices=sorted(driver.STEP_RUNNERS))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    cfg.launch.slurm_env = True  # torchrun takes nodes, ranks and rendezvous host from the allocation
    ctx = make_context(cfg)
    if ledger.read_marker(ctx.dir, args.round, args.step) is None:
        driver.run_step(ctx, args.round, args.step)
    if args.step == "decide" and os.environ.get("SLURM_NODEID", "0") == "0":
        submit_round(cfg)


if __name__ == "__main__":
    main()
