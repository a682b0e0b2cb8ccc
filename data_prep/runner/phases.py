"""``run_prep``: tokenizer -> tasks (each its own shard range) -> merge (one manifest + report).

Command forms (all share the same out_dir and config):
  python -m data_prep out_dir=D                          everything here (num_workers processes per task)
  python -m data_prep out_dir=D num_tasks=8 task_id=3    one task (a machine / Slurm array index)
  python -m data_prep out_dir=D num_tasks=8 step=merge   the manifest, once every task has its marker
With whole-run dedup (pipeline.dedup.exact / near) a task runs in two phases around the dedup steps:
  task_id=K (filter phase) ... step=dedup (once) ... task_id=K again (pack phase) ... step=merge
  where step=dedup may also run spread out: step=dedup_bucket bucket_id=J (each J) ... step=dedup_union
Each phase is ``runner.task.run_step`` over the steps of ``runner.steps``; they are chained by their
completion markers, so rerunning any of them after an interruption continues where it stopped.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from data_prep.config import PrepConfig, Step
from data_prep.output.manifest import merge_tasks
from data_prep.output.tokenizer import prepare_tokenizer
from data_prep.runner.out_dir import open_out_dir
from data_prep.runner.prepare import prepare_run
from data_prep.runner.steps import (
    dedup_done,
    load_task_results,
    pack_task,
    run_dedup_bucket_step,
    run_dedup_step,
    run_dedup_union_step,
    run_filter_task,
    run_task,
)
from data_prep.runner.task import TaskContext
from data_prep.sources import check_source
from openpretrain.errors import ConfigError
from openpretrain.manifest import Manifest, token_dtype_for

log = logging.getLogger(__name__)

INTERRUPTED_EXIT = 130  # the shell's code for a Ctrl-C
DEDUP_STEPS = (Step.filter, Step.dedup, Step.dedup_bucket, Step.dedup_union)


def run_prep(cfg: PrepConfig, raw_cfg: DictConfig, argv: list[str] | None = None) -> Manifest | None:
    """Run what the config asks for; return the manifest when this call merged.

    ``argv``: the command-line overrides, to name the exact command in messages (default: sys.argv).
    """
    try:
        return _run(cfg, raw_cfg, sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to continue where it stopped", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)


def _run(cfg: PrepConfig, raw_cfg: DictConfig, argv: list[str]) -> Manifest | None:
    check_source(cfg.source)
    out_dir = os.path.abspath(cfg.out_dir)
    resolved = OmegaConf.to_container(raw_cfg, resolve=True)
    work_dir = open_out_dir(out_dir, resolved, cfg.overwrite, argv)
    two_pass = whole_run_dedup(cfg)
    if cfg.step == Step.merge:
        return _finish(cfg, out_dir, work_dir, resolved)
    if not two_pass and cfg.step in DEDUP_STEPS:
        raise ConfigError("step", f"{cfg.step.value} only applies with pipeline.dedup.exact or .near enabled")
    task_ids = list(range(cfg.num_tasks)) if cfg.task_id is None else [cfg.task_id]
    if cfg.step in (Step.dedup, Step.dedup_bucket, Step.dedup_union):
        _dedup(cfg, work_dir)
        return None
    ctx = _context(cfg, out_dir, work_dir)
    prepare_run(cfg, out_dir, work_dir)  # run-wide inputs (generated text, stage calibration, canaries), once
    if two_pass and cfg.step in (Step.all, Step.filter):
        _run_phase("filter", task_ids, cfg, lambda t, bar: run_filter_task(cfg, ctx, t, bar))
        if cfg.step == Step.filter or (cfg.task_id is not None and not dedup_done(work_dir)):
            print(f"filter phase done for task(s) {task_ids}; next: step=dedup (or its buckets) once every task got here")
            return None
        _dedup(cfg, work_dir)
    if two_pass:
        _run_phase("pack", task_ids, cfg, lambda t, bar: pack_task(cfg, ctx, t, bar))
    else:
        _run_phase("pack", task_ids, cfg, lambda t, bar: run_task(cfg, ctx, t, bar))
    if cfg.task_id is None:
        return _finish(cfg, out_dir, work_dir, resolved)
    print(f"task {cfg.task_id}/{cfg.num_tasks} done; run step=merge when all tasks are done")
    return None


def _context(cfg: PrepConfig, out_dir: str, work_dir: str) -> TaskContext:
    _, tok_path, tok_info = prepare_tokenizer(cfg, out_dir)
    return TaskContext(out_dir=out_dir, work_dir=work_dir, tokenizer_path=tok_path, eos_id=tok_info.eos_id,
                       token_dtype=token_dtype_for(tok_info.vocab_size))


def _run_phase(name: str, task_ids: list[int], cfg: PrepConfig, run_one) -> None:
    total = cfg.max_docs if name == "filter" or not whole_run_dedup(cfg) else None
    with tqdm(total=total, disable=not cfg.progress, unit="doc", desc=f"data_prep {name}") as bar:
        for task_id in task_ids:
            run_one(task_id, bar)


def whole_run_dedup(cfg: PrepConfig) -> bool:
    """Exact or near dedup across the whole run needs the two-phase execution (runner/steps.py)."""
    return bool(cfg.pipeline.dedup.exact or cfg.pipeline.dedup.near)


def _dedup(cfg: PrepConfig, work_dir: str) -> None:
    if cfg.step == Step.dedup_bucket:
        groups = run_dedup_bucket_step(cfg, work_dir, cfg.bucket_id)
        print(f"dedup bucket {cfg.bucket_id}/{cfg.pipeline.dedup.buckets} done {groups or ''}; next: "
              "step=dedup_union once every bucket got here")
        return
    removed = run_dedup_union_step(cfg, work_dir) if cfg.step == Step.dedup_union else run_dedup_step(cfg, work_dir)
    if removed:
        print(f"dedup: removing {sum(removed.values())} documents ({removed})")


def _finish(cfg: PrepConfig, out_dir: str, work_dir: str, resolved: dict[str, Any]) -> Manifest:
    manifest = merge_tasks(cfg, out_dir, load_task_results(work_dir, cfg.num_tasks), resolved, work_dir)
    if cfg.report:
        from data_prep.output.report import write_report

        write_report(manifest, out_dir)
    from data_prep.output.wandb_run import log_prep_run

    wandb_location = log_prep_run(cfg.logger, out_dir)
    stats = manifest.stats
    samples = {split: sum(s.samples for s in manifest.shards_for(split)) for split in ("train", "val")}
    print(f"data_prep: {stats['docs_in']} docs in, {stats['docs_written']} written, "
          f"{sum(stats['rejected'].values())} rejected; {samples['train']} train / {samples['val']} val "
          f"samples of {cfg.seq_len + 1} tokens in {len(manifest.shards)} shards -> {out_dir}")
    if wandb_location:
        print(f"data_prep: W&B run {wandb_location}")
    return manifest
