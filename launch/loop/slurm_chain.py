"""The loop on Slurm: every step of a round is one sbatch job, chained with ``afterok``; the round's
``decide`` job records the round and submits the next round's chain, so nothing waits on the login node.

Each job runs ``python -m launch.loop.run_step`` on the launch config saved in ``loop.dir/launch/`` (the
same step functions as the local driver; the train step runs one task per node, torchrun taking its
rendezvous from the allocation). Rerunning the launch command resubmits from the first step without a
marker; jobs of steps already done exit 0 at once.
"""

from __future__ import annotations

import os
import shlex
import sys

from omegaconf import OmegaConf

from launch import slurm
from launch.config import ClusterConfig, GpuDirective, LaunchConfig
from launch.loop import ledger
from launch.loop.steps import LoopContext, make_context
from launch.slurm import Script

SAVED_CONFIG = "loop_launch.yaml"
COMMENTS = {
    "synthesize": "generate from the newest checkpoint, filter (pipeline=synthetic), write the synthetic dataset",
    "train": "steps_per_round more steps on this round's mix (round 0: real data only)",
    "evaluate": "real-data bpb and the collapse monitor",
    "memorize": "memorization probe (trained-on vs val control, canaries)",
    "decide": "record the round in loop.json, early stop, report, W&B; then submit the next round",
}


def launch_dir(ctx: LoopContext) -> str:
    return str(ctx.dir / "launch")


def saved_config_path(ctx: LoopContext) -> str:
    return os.path.join(launch_dir(ctx), SAVED_CONFIG)


def _resources(c: ClusterConfig, per_node: bool) -> list[str]:
    nodes = c.nodes if per_node else 1
    resources = [f"--nodes={nodes}", "--ntasks-per-node=1"]
    gpus = c.gpus_per_node if per_node else min(1, c.gpus_per_node)  # generation / evaluation use one GPU
    if gpus > 0 and c.gpu_directive == GpuDirective.gpus_per_node:
        resources.append(f"--gpus-per-node={gpus}")
    elif gpus > 0 and c.gpu_directive == GpuDirective.gres:
        resources.append(f"--gres=gpu:{gpus}")
    if c.cpus_per_task:
        resources.append(f"--cpus-per-task={c.cpus_per_task}")
    if c.exclusive and per_node:
        resources.append("--exclusive")
    return resources


def render_step(cfg: LaunchConfig, ctx: LoopContext, round_index: int, step: str) -> Script:
    c, per_node = cfg.cluster, step == "train"
    name = f"r{round_index}-{step}"
    options = slurm._options(c, f"{c.job_name}-loop-{name}", os.path.join(launch_dir(ctx), f"{name}-%j.out"),
                             _resources(c, per_node), ["--no-requeue"])  # a rerun of the launch resubmits
    command = shlex.join([slurm.node_python(cfg), "-m", "launch.loop.run_step", f"--config={saved_config_path(ctx)}",
                          f"--round={round_index}", f"--step={step}"])
    text = slurm._environment().get_template("loop_step.sbatch.j2").render(
        sbatch_options=options, setup=c.setup, workdir=ctx.workdir, env=sorted(cfg.launch.env.items()),
        round=round_index, step=step, comment=COMMENTS[step], per_node=per_node, cpus_per_task=c.cpus_per_task,
        marker=str(ledger.marker_path(ctx.dir, round_index, step)), command=command)
    return Script(name=f"{step}", path=os.path.join(launch_dir(ctx), f"{name}.sbatch"), text=text)


def round_scripts(cfg: LaunchConfig, ctx: LoopContext) -> list[Script]:
    """The jobs from the first step without a marker to the end of its round (none when finished)."""
    position = ledger.next_step(ctx.dir, cfg.loop.rounds)
    if position is None:
        return []
    round_index, first = position
    steps = ledger.steps_of(round_index)
    return [render_step(cfg, ctx, round_index, step) for step in steps[steps.index(first):]]


def save_config(cfg: LaunchConfig, ctx: LoopContext) -> None:
    os.makedirs(launch_dir(ctx), exist_ok=True)
    tmp = saved_config_path(ctx) + f".tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    os.replace(tmp, saved_config_path(ctx))


def load_config(path: str) -> LaunchConfig:
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LaunchConfig), OmegaConf.load(path)))


def submit_round(cfg: LaunchConfig) -> int:
    from launch.loop.driver import check_same_tokenizer

    ctx = make_context(cfg)
    check_same_tokenizer(ctx)
    scripts = round_scripts(cfg, ctx)
    if not scripts:
        print(f"[loop] nothing to submit: the loop in {ctx.dir} is finished", file=sys.stderr, flush=True)
        return 0
    if cfg.dry_run:
        slurm.print_dry_run(scripts, slurm.chained_submit_commands(cfg, scripts))
        return 0
    save_config(cfg, ctx)
    slurm.save(scripts, {}, launch_dir(ctx))
    job_ids: list[str] = []
    for script in scripts:
        job_ids.append(slurm.submit(cfg, script, ctx.workdir, dependency=job_ids[-1] if job_ids else None))
    print(*job_ids, sep="\n", flush=True)
    chain = ", ".join(f"{s.name} {j}" for s, j in zip(scripts, job_ids))
    print(f"[loop] submitted {chain}, each afterok the one before; scripts and logs in {launch_dir(ctx)}",
          file=sys.stderr, flush=True)
    return 0
