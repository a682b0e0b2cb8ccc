"""The loop's steps as functions of (context, round), and the local driver that runs them in order.

``run_step`` runs one step and writes its completion marker; ``run_local`` repeats it on the first step
without a marker until the loop is finished, so a killed driver rerun with the same command continues
where it stopped. The Slurm chain (launch.loop.slurm_chain) calls ``run_step`` from each job instead.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from launch import torchrun
from launch.config import LaunchConfig
from launch.loop import ledger, report, stopping
from launch.loop import steps as S
from launch.loop.metrics import LoopWandb
from launch.torchrun import Command
from openpretrain.errors import UserError
from openpretrain.manifest import load_manifest

log = logging.getLogger(__name__)


def _run(ctx: S.LoopContext, round_index: int, step: str, command: Command) -> None:
    print(f"[loop] round {round_index} {step}: {command.render()}", file=sys.stderr, flush=True)
    status = torchrun.run(command, cwd=ctx.workdir)
    if status != 0:
        raise UserError(f"loop: round {round_index} {step} exited with status {status} (its output is above); "
                        "rerun the same command to continue from this step")


def synthesize(ctx: S.LoopContext, r: int) -> None:
    _run(ctx, r, "synthesize", S.synthesize_command(ctx, r))
    ledger.mark_done(ctx.dir, r, "synthesize", S.synthesize_payload(ctx, r))


def train(ctx: S.LoopContext, r: int) -> None:
    mix = S.round_mix(ctx, r)
    target = S.train_target(ctx, r, mix)
    _run(ctx, r, "train", torchrun.local_command(ctx.launch, target))
    if os.environ.get("SLURM_NODEID", "0") == "0":  # on Slurm every node trains; the first one records it
        ledger.mark_done(ctx.dir, r, "train", train_payload(ctx, r, mix))


def train_payload(ctx: S.LoopContext, r: int, mix: list[dict]) -> dict:
    """The checkpoint the round trained (checked: it reached the round's step) and its mix."""
    from train.checkpoint import latest_complete

    want = S.target_step(ctx, r)
    ref = latest_complete(str(S.run_dir(ctx, r)))
    if ref is None or ref.step != want:
        raise UserError(f"loop: round {r} train ended without a complete checkpoint at step {want} "
                        f"in {S.run_dir(ctx, r)} (newest: {ref.step if ref else 'none'})")
    return {"checkpoint": ref.path, "step": ref.step, "mix": mix, "synthetic_share": S.mix_share(mix)}


def evaluate(ctx: S.LoopContext, r: int) -> None:
    checkpoint = ledger.read_marker(ctx.dir, r, "train")["checkpoint"]
    _run(ctx, r, "evaluate", S.evaluate_command(ctx, r, checkpoint))
    ledger.mark_done(ctx.dir, r, "evaluate", S.read_json(S.eval_path(ctx, r)))


def memorize(ctx: S.LoopContext, r: int) -> None:
    checkpoint = ledger.read_marker(ctx.dir, r, "train")["checkpoint"]
    _run(ctx, r, "memorize", S.memorize_command(ctx, r, checkpoint))
    ledger.mark_done(ctx.dir, r, "memorize", S.read_json(S.memorization_path(ctx, r)))


def round_record(ctx: S.LoopContext, r: int) -> ledger.RoundRecord:
    trained, evaluated = ledger.read_marker(ctx.dir, r, "train"), ledger.read_marker(ctx.dir, r, "evaluate")
    memorized = ledger.read_marker(ctx.dir, r, "memorize")
    synthetic = ledger.read_marker(ctx.dir, r, "synthesize") if r > 0 else None
    return ledger.RoundRecord(
        round=r, checkpoint=trained["checkpoint"], real_val_bpb=evaluated["real_val_bpb"],
        synthetic_share=trained["synthetic_share"], synthetic_kept=synthetic["kept"] if synthetic else 0,
        synthetic_rejected=synthetic["rejected"] if synthetic else {}, distinct_2=evaluated["distinct_2"],
        tail_mass=evaluated["tail_mass"],
        discriminator_accuracy=synthetic["discriminator_accuracy"] if synthetic else None,
        exact_match_rate=memorized["exact_match_rate"],
        control_exact_match_rate=memorized["control_exact_match_rate"])


def decide(ctx: S.LoopContext, r: int) -> None:
    """Record the round, decide whether to stop, redraw the report, log W&B; replayable after a kill."""
    book = ledger.record_round(ctx.dir, round_record(ctx, r))
    stopped = stopping.decide(book["rounds"][: r + 1], ctx.loop.stop_rule)
    if stopped is not None:
        book = ledger.record_stop(ctx.dir, stopped["round"], stopped["reason"])
        print(f"[loop] stopping after round {r}: {stopped['reason']}", file=sys.stderr, flush=True)
    report.write_report(ctx.dir, book)
    wandb = LoopWandb(ctx.dir, ctx.loop.wandb.mode, ctx.loop.wandb.project, config=_wandb_config(ctx))
    wandb.log_round(book["rounds"][r])
    if r > 0:
        wandb.link_generated_dataset(S.synthetic_dir(ctx, r), S.generator_checkpoint(ctx, r), r)
    wandb.finish()
    ledger.mark_done(ctx.dir, r, "decide", {"stopped": stopped})


def _wandb_config(ctx: S.LoopContext) -> dict:
    loop = ctx.loop
    return {"loop": {k: getattr(loop, k) for k in ("rounds", "docs_per_round", "steps_per_round",
                                                   "max_synthetic_share", "train", "synthetic", "seed")},
            "real_data": ctx.real, "train_overrides": ctx.train_overrides}


STEP_RUNNERS: dict[str, Callable[[S.LoopContext, int], None]] = {
    "synthesize": synthesize, "train": train, "evaluate": evaluate, "memorize": memorize, "decide": decide}


def run_step(ctx: S.LoopContext, r: int, step: str) -> None:
    STEP_RUNNERS[step](ctx, r)


def check_same_tokenizer(ctx: S.LoopContext) -> None:
    """A loop.dir whose run was trained with another tokenizer than loop.real_data's cannot continue."""
    from train.checkpoint import latest_complete
    from train.load import open_checkpoint, run_tokenizer

    ref = latest_complete(str(ctx.dir / "run"))
    if ref is None:
        return
    trained = run_tokenizer(open_checkpoint(ref.path)).sha256
    real = load_manifest(ctx.real).tokenizer.sha256
    if trained != real:
        raise UserError(f"loop.real_data={ctx.loop.real_data}: its tokenizer (sha256 {real[:12]}) differs from the "
                        f"one checkpoint {ref.path} was trained with ({trained[:12]}); use another loop.dir")


def run_local(cfg: LaunchConfig) -> int:
    ctx = S.make_context(cfg)
    check_same_tokenizer(ctx)
    if cfg.dry_run:
        position = ledger.next_step(ctx.dir, ctx.loop.rounds)
        print(f"[loop] next step: {position or 'none (finished)'}", flush=True)
        return 0
    while (position := ledger.next_step(ctx.dir, ctx.loop.rounds)) is not None:
        run_step(ctx, *position)
    book = ledger.load_ledger(ctx.dir)
    print(f"[loop] done: {len(book['rounds'])} round(s), stopped: {book['stopped']}; "
          f"{ledger.ledger_path(ctx.dir)}", file=sys.stderr, flush=True)
    return 0


def run_loop(cfg: LaunchConfig) -> int:
    """job=loop: run the rounds here (cluster=local) or submit the next round's job chain (Slurm)."""
    from launch.config import ClusterKind

    if cfg.cluster.kind == ClusterKind.local:
        return run_local(cfg)
    from launch.loop.slurm_chain import submit_round

    return submit_round(cfg)
