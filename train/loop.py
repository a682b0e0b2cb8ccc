"""The training loop: data -> DeepSpeed steps -> eval / metrics / checkpoints, resumable at any step boundary.

One step = ``grad_accum_steps`` micro batches per rank, then one optimizer step. After every step the
ranks all-reduce (mean loss, stop flag) in a single call, so stability decisions and preemption stops
happen at the same step everywhere.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from typing import Any

import torch
import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf

from train import checkpoint as ckpt
from train.checkpoint.manager import CheckpointManager
from train.config import OnCorrupt, TrainConfig
from train.data import IGNORE_INDEX, Batch, DataInfo, build_train_data, build_val_batches, data_info
from train.data.shard_check import Stripe, agree_on_shard_problems, report_shard_problems
from train.engine import DistEnv, batch_sizes, build_engine, init_distributed, shutdown_distributed
from train.generations import COLUMNS as GENERATION_COLUMNS
from train.generations import GenerationProbe, training_tokenizer
from train.hf.pretrained import load_init_weights
from train.metrics import MetricsLog, Throughput, memory_gb, new_run_id, peak_flops_per_device
from train.model_setup import build_model, checked_model_args
from train.objectives.build import run_objective
from train.perf import model_flops_per_token
from train.preemption import StopRequest
from train.run_dir import CONFIG_FILE, prepare_run_dir
from train.stability import SpikeDetector, StabilityCounters
from train.state import RngState, TrainState, seed_everything

log = logging.getLogger(__name__)

class Trainer:
    def __init__(self, cfg: TrainConfig, raw: DictConfig, env: DistEnv, info: DataInfo) -> None:
        self.cfg, self.env, self.info = cfg, env, info
        self.run_dir = os.path.abspath(cfg.run_dir)
        self.config = OmegaConf.to_container(raw, resolve=True, enum_to_str=True)
        self.sizes = batch_sizes(cfg, env.world_size)
        self.state = TrainState()
        self.counters = StabilityCounters()
        self.spikes = SpikeDetector(cfg.stability)
        self.checkpoints = CheckpointManager(cfg, env, self.run_dir)
        if env.is_main:
            os.makedirs(self.run_dir, exist_ok=True)
        self.checkpoints.remove_interrupted_saves()  # ends in a barrier: the run dir exists for every rank
        self.metrics = MetricsLog(self.run_dir, env.is_main)
        self.stop = StopRequest().install()

    # -- setup ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg, env = self.cfg, self.env
        self.objective = run_objective(cfg, self.info)  # a tokenizer without its special tokens fails here
        self.model_args = checked_model_args(cfg.model, self.info.vocab_size, self.info.seq_len,
                                             self.info.tokenizer_path, causal=self.objective.causal)
        plan = self.checkpoints.plan_resume(self.model_args)  # a damaged or foreign checkpoint fails here
        self.resumed = plan is not None
        if env.is_main:  # only now: a refused config must not overwrite the run's config.yaml
            prepare_run_dir(self.run_dir, self.config, self.info)
        seed_everything(cfg.seed)
        model = build_model(self.model_args, cfg.perf)
        # Continued pretraining: step 0 holds the HF weights, in the module before DeepSpeed partitions it
        # (any ZeRO stage); optimizer and data start fresh. Once a checkpoint exists it is the resume point.
        init_folder = load_init_weights(model, cfg.model.init_from) if cfg.model.init_from and not plan else None
        self.n_params = sum(p.numel() for p in model.parameters())
        flops_per_token = model_flops_per_token(model, self.info.seq_len)
        self.engine = build_engine(model, cfg, env, load_universal=plan is not None and plan.universal)
        self.train_data = build_train_data(cfg, env.rank, env.world_size, self.objective, self.info)
        self.val_batches = build_val_batches(cfg, env.rank, env.world_size, self.objective, self.info)
        self.checkpoints.engine = self.engine
        self.checkpoints.register("train", self.state)
        self.checkpoints.register("data", self.train_data)
        self.checkpoints.register("rng", RngState(cfg.seed, env.rank, env.world_size, self.state))
        self.checkpoints.register("objective", self.objective)
        self.checkpoints.register("stability", self.spikes)
        if plan is not None:
            self.checkpoints.load(plan)
        else:
            self.state.wandb_run_id = new_run_id()
        peak = peak_flops_per_device(cfg.peak_flops, env.device)
        self.throughput = Throughput(flops_per_token, peak * env.world_size if peak else None)
        self.metrics.start_wandb(cfg.logger, self.run_dir, self.state.wandb_run_id, self.config)
        self.metrics.use_datasets([cfg.data.path] if cfg.data.path else [m.path for m in cfg.data.mix])
        tokenizer = training_tokenizer(self.info.tokenizer_path, self.info.manifests[0].tokenizer)
        self.generations = GenerationProbe(cfg.generations, tokenizer, self.run_dir, env.is_main, self.state.step)
        if init_folder:
            self.metrics.event("init_from", 0, f"step 0 starts from the weights of {init_folder}", folder=init_folder)
        if not self.val_batches and cfg.eval_batches:  # a small corpus can leave the val split empty
            self.metrics.event("no_val", self.state.step, "no val samples in the data: val_loss/val_bpb will not be "
                               "logged (prepare more documents or raise data_prep's val_fraction)")
        self.start_step = self.state.step
        self.start_skipped = self.engine.skipped_steps
        if plan is not None:
            how = f" (universal checkpoint, world size {plan.ref.world_size} -> {env.world_size})" if plan.universal else ""
            self.metrics.event("resume", self.state.step, f"resumed from {plan.ref.path}{how}",
                               checkpoint=plan.ref.path, from_world_size=plan.ref.world_size,
                               world_size=env.world_size, data_position=self._data_position())
        log.info("model: %.2fM parameters; global batch %d x %d tokens (micro %d x accum %d x %d ranks)",
                 self.n_params / 1e6, self.sizes.global_, self.info.seq_len, self.sizes.micro, self.sizes.accum,
                 env.world_size)

    # -- the loop ---------------------------------------------------------------------------------------
    def train(self) -> None:
        cfg = self.cfg
        if cfg.max_steps == 0 and not self.resumed:
            self.save()  # step_0: the initial weights (with model.init_from, the HF model) as a checkpoint
        while self.state.step < cfg.max_steps:
            loss, stop, step_time = self._train_step()
            self.state.step += 1
            step = self.state.step
            applied = self._account_step(loss, step_time)
            if applied and self.spikes.is_spike(loss):
                self._rollback(loss)
                continue
            record: dict[str, Any] = {}
            # The first step of every run is logged too: it shows where a resume picked up.
            if step % cfg.log_every == 0 or step in (cfg.max_steps, self.start_step + 1) or stop:
                record.update(self._train_metrics(loss))
            if (step % cfg.eval_every == 0 or step == cfg.max_steps) and self.val_batches:
                record.update(self.evaluate())
            if (step % cfg.eval_every == 0 or step == cfg.max_steps) and self.generations.enabled:
                self.generations.sample(self.engine.module, step)
                self.metrics.log_table("generations", list(GENERATION_COLUMNS), self.generations.table_rows(), step)
            if record:
                self._log(record)
            if step % cfg.checkpoint_every == 0 or step == cfg.max_steps or stop:
                self.save()
            if stop:
                # Only the ranks that got the signal know which one it was; rank 0 may have learnt it via the flag.
                signame = signal.Signals(self.stop.signal).name if self.stop.requested else "stop signal on another rank"
                self.metrics.event("preempted", step, f"{signame}: saved {ckpt.tag_for(step)}, exiting cleanly")
                break

    def _train_step(self) -> tuple[float, bool, float]:
        """One optimizer step on every rank; returns (mean loss over ranks, stop requested, seconds)."""
        start = time.perf_counter()
        self.step_lr = self.engine.get_lr()[0]  # the schedule moves on inside the step
        total = torch.zeros((), device=self.env.device)
        self.step_counts = torch.zeros(self.objective.num_counts, device=self.env.device)
        for _ in range(self.sizes.accum):
            batch: Batch = next(self.train_data)
            inputs = batch.inputs.to(self.env.device, non_blocking=True)
            targets = batch.targets.to(self.env.device, non_blocking=True)
            loss = self._forward(inputs, targets)
            self.engine.backward(loss)
            self.engine.step()
            total += loss.detach().float()
        flag = torch.tensor(float(self.stop.requested), device=total.device)
        # One all-reduce for the loss, the stop flag and the objective's counts (MLM: correct, labelled).
        synced = torch.cat([torch.stack([total / self.sizes.accum, flag]), self.step_counts])
        dist.all_reduce(synced)
        mean_loss, stop = (synced[0] / self.env.world_size).item(), synced[1].item() > 0
        self.step_counts = synced[2:]
        return mean_loss, stop, time.perf_counter() - start

    def _forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One micro batch's loss (tests wrap this to inject NaN or spiking losses from outside)."""
        loss, counts = self.objective.loss(self.engine, inputs, targets)
        self.step_counts += counts
        return loss

    def _account_step(self, loss: float, step_time: float) -> bool:
        """Count tokens for an applied step, or record a skipped one. Returns whether it was applied."""
        step = self.state.step
        skipped_total = self.engine.skipped_steps - self.start_skipped
        if skipped_total > self.counters.skipped_steps:
            self.counters.count_skipped(self.cfg.stability, step)
            self.metrics.event("skipped_step", step, f"non-finite loss/grad norm (loss {loss}): step skipped",
                               loss=loss, skipped_steps=self.engine.skipped_steps)
            return False
        tokens = self.sizes.global_ * self.info.seq_len
        self.state.tokens_seen += tokens
        self.throughput.add(tokens, step_time)
        return True

    def _rollback(self, loss: float) -> None:
        step, running_mean = self.state.step, self.spikes.running_mean
        self.counters.spikes += 1
        if ckpt.latest_complete(self.run_dir) is None:
            self.metrics.event("spike", step, f"loss {loss:.4f} > {self.cfg.stability.spike_factor} x running mean "
                               f"{running_mean:.4f}, but no checkpoint to roll back to yet", loss=loss)
            return
        self.counters.count_rollback(self.cfg.stability, step)
        ref = self.checkpoints.rollback()
        self.state.rollbacks += 1
        self.counters.skipped_batches += step - ref.step
        self.metrics.event("rollback", self.state.step,
                           f"loss {loss:.4f} > {self.cfg.stability.spike_factor} x running mean {running_mean:.4f} at "
                           f"step {step}: rolled back to {ref.tag}; the {step - ref.step} global batches since are skipped",
                           spike_step=step, loss=loss, running_mean=running_mean, checkpoint=ref.path,
                           skipped_batches=step - ref.step, data_position=self._data_position())

    # -- eval, metrics, checkpoints ---------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float | None]:
        """Mean val loss over the fixed val batches (same on every eval), perplexity, bits per byte."""
        count = torch.tensor([len(self.val_batches)], device=self.env.device)
        dist.all_reduce(count, op=dist.ReduceOp.MIN)  # ZeRO-3 needs every rank in every forward
        self.engine.eval()
        sums = torch.zeros(2 + self.objective.num_counts, device=self.env.device)
        for batch in self.val_batches[: int(count.item())]:
            targets = batch.targets.to(self.env.device)
            valid = (targets != IGNORE_INDEX).sum()
            loss, counts = self.objective.loss(self.engine, batch.inputs.to(self.env.device), targets)
            sums += torch.cat([torch.stack([loss.float() * valid, valid.float()]), counts])
        self.engine.train()
        dist.all_reduce(sums)
        val_loss = (sums[0] / sums[1].clamp(min=1)).item()
        bpt = self.info.bytes_per_token
        if not self.objective.reports_perplexity:  # masked LM: perplexity and bits per byte are next-token measures
            return {"val_loss": val_loss, **self.objective.metrics(sums[2:], "val_")}
        return {
            "val_loss": val_loss,
            "val_ppl": math.exp(min(val_loss, 50.0)),
            "val_bpb": val_loss / math.log(2) / bpt if bpt else None,
        }

    def _data_position(self) -> int:
        return int(self.train_data.state_dict()["global_samples"])

    def _train_metrics(self, loss: float) -> dict[str, Any]:
        grad_norm = self.engine.get_global_grad_norm()
        return {
            "loss": loss,
            "lr": self.step_lr,
            "grad_norm": float(grad_norm) if grad_norm is not None else None,
            **self.throughput.report(),
            "memory_gb": memory_gb(self.env.device),
            "data_position": self._data_position(),
            "tokens_seen": self.state.tokens_seen,
            "skipped_steps": self.engine.skipped_steps,
            "rollbacks": self.state.rollbacks,
            **self.objective.metrics(self.step_counts),
            **self.train_data.metrics(),
        }

    def _log(self, record: dict[str, Any]) -> None:
        record = {"step": self.state.step, **record}
        self.metrics.log(record)
        parts = [f"step {record['step']}"]
        for key, fmt in (("loss", "loss {:.4f}"), ("lr", "lr {:.2e}"), ("grad_norm", "gnorm {:.3f}"),
                         ("tokens_per_s", "{:,.0f} tok/s"), ("mfu", "mfu {:.1%}"), ("val_loss", "val {:.4f}"),
                         ("val_bpb", "bpb {:.3f}"), ("masked_accuracy", "masked acc {:.3f}"),
                         ("val_masked_accuracy", "val masked acc {:.3f}")):
            if record.get(key) is not None:
                parts.append(fmt.format(record[key]))
        log.info(" | ".join(parts))

    def save(self) -> None:
        path = self.checkpoints.save(self.state.step, self.model_args, self.config)
        if path is not None:
            self.metrics.log_checkpoint(path, self.state.step)

    def summary(self) -> None:
        if not self.env.is_main:
            return
        ref = ckpt.latest_complete(self.run_dir)
        lines = [
            f"done: step {self.state.step}/{self.cfg.max_steps} ({self.state.step - self.start_step} this run), "
            f"{self.state.tokens_seen:,} tokens seen, {self.engine.skipped_steps} skipped steps, "
            f"{self.state.rollbacks} rollbacks",
            f"checkpoint: {ref.path if ref else 'none'}",
            f"metrics:    {self.metrics.path}",
            f"config:     {os.path.join(self.run_dir, CONFIG_FILE)}",
            f"W&B run:    {self.metrics.wandb_location()}",
        ]
        log.info("\n".join(lines))

    def close(self) -> None:
        self.stop.uninstall()
        if hasattr(self, "train_data"):
            self.train_data.close()
        self.metrics.close()


def _quiet_deepspeed() -> None:
    from deepspeed.utils import logger as ds_logger

    ds_logger.setLevel(logging.WARNING)


def run_training(cfg: TrainConfig, raw: DictConfig) -> None:
    """Entry point from ``python -m train`` (one process) or torchrun / srun (every rank)."""
    # Bad data paths fail here, before the slow imports and the process group; each rank stats its
    # stripe of the shard files, and the ranks agree on what they found once the group is up.
    info = data_info(cfg, Stripe.from_launcher())
    env = init_distributed()
    _quiet_deepspeed()
    if not env.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    trainer = Trainer(cfg, raw, env, info)
    try:
        if env.world_size > 1:
            report_shard_problems(agree_on_shard_problems(info.shard_problems),
                                  skip_corrupt=cfg.data.on_corrupt == OnCorrupt.skip, warn=env.is_main)
        trainer.setup()
        trainer.train()
        trainer.summary()
    except BaseException:
        trainer.close()
        shutdown_distributed(barrier=False)
        raise
    trainer.close()
    shutdown_distributed()
