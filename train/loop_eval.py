"""``python -m train.loop_eval checkpoint=CKPT real_data=DIR out=FILE``: one loop round's evaluation.

Everything on REAL data only (the loop judges quality there, never on its own output):
- val loss / bits per byte of the real dataset's val split and of every ``eval_text_files`` entry
  (``train.evaluate``'s code);
- the collapse monitor (``train.diversity``): generations from a FIXED set of prompts (the first
  ``prompt_tokens`` tokens of the first ``num_prompts`` real val samples) with a FIXED seed, so rounds
  differ only by the model; distinct-1/2/3, type-token ratio, perplexity mean/quantiles of the generated
  tokens, and tail mass against the real train split's token counts.
Prints one JSON object (and writes it to ``out``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from openpretrain.cli import emit_json_line, hydra_entry, to_object
from openpretrain.errors import UserError
from openpretrain.manifest import load_manifest
from train.batch_generate import SamplingParams
from train.data.datasets import Dataset
from train.data.reader import SampleReader
from train.diversity import generation_metrics, rare_tokens
from train.evaluate import EvalDataConfig, EvaluateConfig, evaluate
from train.load import LoadedRun, load_run
from train.loop_eval_settings import LoopEvalSettings, validate_settings


@dataclass
class LoopEvalConfig(LoopEvalSettings):
    checkpoint: str = MISSING
    real_data: str = MISSING  # the loop's real prepared dataset (val split scored, train split = token counts)
    eval_text_files: list[str] = MISSING
    out: str | None = MISSING


def validate(cfg: LoopEvalConfig) -> None:
    validate_settings(cfg)


def _samples(dataset: Dataset, split: str, limit: int | None = None) -> list[list[int]]:
    reader = SampleReader(dataset, split, skip_corrupt=False)
    rows: list[list[int]] = []
    for slot, shard in enumerate(dataset.shards(split)):
        for index in range(shard.samples):
            if limit is not None and len(rows) >= limit:
                return rows
            rows.append(reader.read(slot, index)[0].tolist())
    return rows


def real_bpb(cfg: LoopEvalConfig) -> dict[str, float | None]:
    """Bits per byte (and loss) of the real val split and of each eval text file."""
    common = dict(checkpoint=cfg.checkpoint, batch_size=cfg.batch_size, tokenizer=None, seq_len=None, out=None)
    val = evaluate(EvaluateConfig(data=EvalDataConfig(path=cfg.real_data, split="val"), text_file=None,
                                  max_batches=cfg.max_batches, **common))
    out: dict[str, float | None] = {"real_val_bpb": val["bits_per_byte"], "real_val_loss": val["loss"]}
    for path in cfg.eval_text_files:
        result = evaluate(EvaluateConfig(data=EvalDataConfig(path=None, split="val"), text_file=path,
                                         max_batches=None, **common))
        out[f"text_bpb/{path}"] = result["bits_per_byte"]
    return out


def collapse_monitor(cfg: LoopEvalConfig, run: LoadedRun, real: Dataset) -> dict[str, float]:
    val = _samples(real, "val", cfg.num_prompts)
    if len(val) < cfg.num_prompts:
        raise UserError(f"loop eval: {cfg.real_data} has {len(val)} val samples, num_prompts={cfg.num_prompts}")
    prompts = [row[: cfg.prompt_tokens] for row in val]
    counts = Counter(token for row in _samples(real, "train") for token in row)
    params = SamplingParams(temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                            max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    return generation_metrics(run.model, prompts, params, rare_tokens(counts, cfg.tail_quantile),
                              eos_id=run.tokenizer.eos_id, decodable_vocab=run.tokenizer.tokenizer.get_vocab_size(),
                              batch_size=cfg.batch_size)


def evaluate_round(cfg: LoopEvalConfig) -> dict:
    run = load_run(cfg.checkpoint)
    real = Dataset(label="real", weight=1.0, manifest=load_manifest(cfg.real_data))
    if real.manifest.tokenizer.sha256 != run.tokenizer.sha256:
        raise UserError(f"real_data={cfg.real_data}: its tokenizer differs from the checkpoint's")
    return {"checkpoint": run.checkpoint.path, "step": run.checkpoint.ref.step, **real_bpb(cfg),
            **collapse_monitor(cfg, run, real)}


ConfigStore.instance().store(name="loop_eval_schema", node=LoopEvalConfig)


@hydra_entry("loop_eval")
def main(cfg: DictConfig) -> None:
    eval_cfg: LoopEvalConfig = to_object(cfg)
    validate(eval_cfg)
    emit_json_line(evaluate_round(eval_cfg), eval_cfg.out)


if __name__ == "__main__":
    main()
