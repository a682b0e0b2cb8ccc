"""What each step of a loop round runs: a data_prep, torchrun, or python command, built from the config.

The driver (local) runs these one after the other; the Slurm chain puts each in its own job. Every command
is itself resumable (data_prep markers, training auto-resume, evaluation recomputed), and what a later step
needs from an earlier one travels in that step's completion marker (launch.loop.ledger).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.config import JobKind, LaunchConfig
from launch.loop import ledger
from launch.loop.config import LoopConfig
from launch.loop.mix import PreparedSet, plan_mix
from launch.overrides import key_of
from launch.target import Target, compose_target
from launch.torchrun import Command
from openpretrain.errors import UserError
from openpretrain.manifest import Manifest, load_manifest
from train.data.synthetic_share import mix_synthetic_share
from train.loop_eval_settings import settings_overrides

REAL_NAME = "real"  # data.mix name of the real dataset, the same in every round (so the run resumes)
LOOP_SET_KEYS = ("run_dir", "data.path", "data.mix", "max_steps", "data.max_synthetic_share",
                 "data.allow_dropped_datasets")


@dataclass
class LoopContext:
    launch: LaunchConfig
    train_overrides: list[str]  # the user's, after `--`
    workdir: str

    @property
    def loop(self) -> LoopConfig:
        return self.launch.loop

    @property
    def dir(self) -> Path:
        return Path(self.workdir, self.loop.dir).resolve()

    @property
    def real(self) -> str:
        return os.path.abspath(os.path.join(self.workdir, self.loop.real_data))


def make_context(cfg: LaunchConfig) -> LoopContext:
    workdir = os.path.abspath(cfg.workdir or os.getcwd())
    for override in cfg.overrides:
        if key_of(override) in LOOP_SET_KEYS:
            raise UserError(f"loop: {key_of(override)} is set by the loop itself; drop {override!r} after --")
    return LoopContext(launch=cfg, train_overrides=list(cfg.overrides), workdir=workdir)


def train_tokens(manifest: Manifest) -> int:
    return sum(shard.tokens for shard in manifest.shards_for("train"))


# -- synthesize (round >= 1): generate + filter with data_prep -------------------------------------------
def synthetic_dir(ctx: LoopContext, round_index: int) -> Path:
    return ledger.round_dir(ctx.dir, round_index) / "synthetic"


def generator_checkpoint(ctx: LoopContext, round_index: int) -> str:
    """The newest checkpoint: the one round ``round_index - 1`` trained."""
    marker = ledger.read_marker(ctx.dir, round_index - 1, "train")
    if marker is None:
        raise UserError(f"loop: round {round_index - 1} has no completed train step")
    return marker["checkpoint"]


def synthesize_command(ctx: LoopContext, round_index: int) -> Command:
    loop, checkpoint, real = ctx.loop, generator_checkpoint(ctx, round_index), ctx.real
    seq_len = load_manifest(real).seq_len
    argv = [sys.executable, "-m", "data_prep", f"out_dir={synthetic_dir(ctx, round_index)}",
            "source=synthetic", f"source.checkpoint={checkpoint}", f"source.num_docs={loop.docs_per_round}",
            f"source.seed={loop.seed + round_index}", f"source.loop_round={round_index}",
            "pipeline=synthetic", f"pipeline.real_data={real}", f"pipeline.ppl.reference={checkpoint}",
            "tokenizer=file", f"tokenizer.path={os.path.join(real, 'tokenizer.json')}", f"seq_len={seq_len}",
            "val_fraction=0", "progress=false", *loop.synthetic_overrides]
    return Command(argv=argv)


def synthesize_payload(ctx: LoopContext, round_index: int) -> dict[str, Any]:
    """What decide and the next mixes need from the kept synthetic dataset's manifest."""
    path = synthetic_dir(ctx, round_index)
    manifest = load_manifest(str(path))
    stats = manifest.stats or {}
    discriminator = stats.get("discriminator") or {}
    return {"path": str(path), "train_tokens": train_tokens(manifest), "kept": int(stats.get("docs_written", 0)),
            "rejected": {k: int(v) for k, v in (stats.get("rejected") or {}).items()},
            "discriminator_accuracy": discriminator.get("heldout_accuracy")}


# -- train ---------------------------------------------------------------------------------------------
def run_dir(ctx: LoopContext, round_index: int) -> Path:
    return ctx.dir / "run" if ctx.loop.train == "continue" else ledger.round_dir(ctx.dir, round_index) / "run"


def target_step(ctx: LoopContext, round_index: int) -> int:
    steps = ctx.loop.steps_per_round
    return (round_index + 1) * steps if ctx.loop.train == "continue" else steps


def round_mix(ctx: LoopContext, round_index: int) -> list[dict[str, Any]]:
    real = PreparedSet(REAL_NAME, ctx.real, train_tokens(load_manifest(ctx.real)))
    synthetic = []
    for r in range(1, round_index + 1):
        marker = ledger.read_marker(ctx.dir, r, "synthesize")
        if marker is None:
            raise UserError(f"loop: round {r} has no completed synthesize step")
        synthetic.append(PreparedSet(f"synthetic_r{r}", marker["path"], int(marker["train_tokens"])))
    return plan_mix(real, synthetic, ctx.loop.max_synthetic_share, ctx.loop.synthetic)


def _mix_literal(mix: list[dict[str, Any]]) -> str:
    entries = ",".join(f"{{path:{json.dumps(e['path'])},weight:{e['weight']!r},name:{e['name']}}}" for e in mix)
    return f"data.mix=[{entries}]"


def train_target(ctx: LoopContext, round_index: int, mix: list[dict[str, Any]]) -> Target:
    overrides = [*ctx.train_overrides, f"run_dir={run_dir(ctx, round_index)}", _mix_literal(mix),
                 f"max_steps={target_step(ctx, round_index)}",
                 f"data.max_synthetic_share={ctx.loop.max_synthetic_share!r}",
                 # replace: last round's synthetic set leaves the mix of the continued run on purpose
                 f"data.allow_dropped_datasets={str(ctx.loop.synthetic == 'replace').lower()}"]
    return compose_target(JobKind.train, overrides, ctx.workdir, check_paths=True)


def mix_share(mix: list[dict[str, Any]]) -> float:
    """The mix's synthetic token share, by training's own function on the manifests' provenance."""
    total = sum(e["weight"] for e in mix)
    return mix_synthetic_share([(e["name"], e["weight"] / total, load_manifest(e["path"]).provenance) for e in mix])


# -- evaluate and memorize -----------------------------------------------------------------------------
def eval_path(ctx: LoopContext, round_index: int) -> Path:
    return ledger.round_dir(ctx.dir, round_index) / "eval.json"


def memorization_path(ctx: LoopContext, round_index: int) -> Path:
    return ledger.round_dir(ctx.dir, round_index) / "memorization.json"


def _list(values: list[str]) -> str:
    return "[" + ",".join(json.dumps(v) for v in values) + "]"


def evaluate_command(ctx: LoopContext, round_index: int, checkpoint: str) -> Command:
    argv = [sys.executable, "-m", "train.loop_eval", f"checkpoint={checkpoint}", f"real_data={ctx.real}",
            f"out={eval_path(ctx, round_index)}", f"eval_text_files={_list(ctx.loop.eval_text_files)}",
            *settings_overrides(ctx.loop.eval)]
    return Command(argv=argv)


def memorize_command(ctx: LoopContext, round_index: int, checkpoint: str) -> Command:
    m = ctx.loop.memorization
    argv = [sys.executable, "-m", "train.memorization", f"checkpoint={checkpoint}", f"data.path={ctx.real}",
            f"num_sequences={m.num_sequences}", f"prefix_tokens={m.prefix_tokens}",
            f"suffix_tokens={m.suffix_tokens}", f"out={memorization_path(ctx, round_index)}"]
    return Command(argv=argv)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"loop: cannot read {path}: {exc}") from None
