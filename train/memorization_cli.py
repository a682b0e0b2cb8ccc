"""``python -m train.memorization checkpoint=RUN [data.path=DIR] num_sequences=N prefix_tokens=32 suffix_tokens=32``

Prints one JSON object: the probe of ``train.memorization`` on sequences the run has actually trained on
and, as the control, the same number of val sequences of the same dataset; plus, when the dataset's
manifest records planted canaries, per repeat count how many the model completes.

Trained-on sequences: the data position in the checkpoint (Contract 3) says how many samples of each
dataset were consumed; the run's order (seed, shuffle, fingerprint) maps each consumed position back to
its shard and index, so the probe reads exactly samples that went through a training step.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from data_prep.output.canaries import make_canaries
from openpretrain.cli import hydra_entry, to_object
from openpretrain.errors import UserError, require
from openpretrain.manifest import load_manifest
from train import memorization as mem
from train.data.datasets import Dataset
from train.data.order import EpochOrder
from train.data.reader import SampleReader
from train.load import LoadedRun, load_run

_CONTROL_SEED = 7_919_000  # far from data_prep's canaries.seed values, so controls are fresh strings


@dataclass
class ProbeDataConfig:
    path: str | None = MISSING  # a dataset the run trained on; None = the run's first dataset


@dataclass
class MemorizationConfig:
    checkpoint: str = MISSING  # run dir (newest complete checkpoint) or run_dir/checkpoints/step_N
    data: ProbeDataConfig = MISSING
    num_sequences: int = MISSING
    prefix_tokens: int = MISSING
    suffix_tokens: int = MISSING
    seed: int = MISSING  # which trained / val samples are drawn
    batch_size: int = MISSING
    out: str | None = MISSING  # also write the JSON object here


def validate(cfg: MemorizationConfig) -> None:
    for key in ("num_sequences", "prefix_tokens", "suffix_tokens", "batch_size"):
        require(getattr(cfg, key) >= 1, key, f"must be >= 1, got {getattr(cfg, key)}")


def _run_datasets(run: LoadedRun) -> list[tuple[str, str]]:
    """(label, path) of every dataset of the run, labelled as training labelled them."""
    data = run.cfg.data
    if data.get("mix"):
        return [(str(e.name) if e.get("name") else _label(str(e.path)), str(e.path)) for e in data.mix]
    return [(_label(str(data.path)), str(data.path))]


def _label(path: str) -> str:
    return os.path.basename(os.path.normpath(path)) or "data"


def _probed_dataset(run: LoadedRun, path: str | None) -> tuple[Dataset, int]:
    """The dataset to probe and how many of its train samples the checkpoint had consumed."""
    state = run.checkpoint.state.get("data") or {}
    entries = state.get("datasets") or []
    if path is None:
        label, path = _run_datasets(run)[0]
    else:
        label = _label(path)
    dataset = Dataset(label=label, weight=1.0, manifest=load_manifest(path))
    if dataset.manifest.tokenizer.sha256 != run.tokenizer.sha256:
        raise UserError(f"data.path={path}: its tokenizer differs from the checkpoint's (sha256 "
                        f"{dataset.manifest.tokenizer.sha256[:12]} vs {run.tokenizer.sha256[:12]})")
    fingerprint = dataset.fingerprint("train")
    for entry in entries:
        if entry.get("fingerprint") == fingerprint or entry.get("name") == label:
            return dataset, int(entry["consumed"])
    raise UserError(f"data.path={path}: the checkpoint {run.checkpoint.path} never trained on it "
                    f"(its datasets: {sorted(e.get('name') for e in entries)})")


def trained_sequences(run: LoadedRun, dataset: Dataset, consumed: int, count: int, seed: int) -> list[list[int]]:
    """Samples at ``count`` seeded positions before the checkpoint's data position, in training order."""
    state = run.checkpoint.state["data"]
    shards = dataset.shards("train")
    order = EpochOrder([s.samples for s in shards], int(state["seed"]), dataset.fingerprint("train"),
                       bool(state["shuffle"]), int(state["shuffle_block_shards"]))
    reader = SampleReader(dataset, "train", skip_corrupt=False)
    return [reader.read(*order.locate(p))[0].tolist() for p in mem.sample_positions(consumed, count, seed)]


def val_sequences(dataset: Dataset, count: int, seed: int) -> list[list[int]]:
    """``count`` seeded val samples: never trained on (data_prep puts no document in both splits)."""
    shards = dataset.shards("val")
    total = sum(s.samples for s in shards)
    if total == 0:
        raise UserError(f"data.path: {dataset.manifest.root} has no val split; the probe needs it as control "
                        "(prepare with val_fraction > 0)")
    reader = SampleReader(dataset, "val", skip_corrupt=False)
    order = EpochOrder([s.samples for s in shards], seed, dataset.label, False, 1)
    return [reader.read(*order.locate(p))[0].tolist() for p in mem.sample_positions(total, count, seed)]


def unplanted_canaries(planted: list[dict], seed: int) -> list[dict]:
    """The canaries' control: as many fresh random canaries, drawn like the planted ones but never
    inserted anywhere (repeats 0). A probe that "completes" these is guessing, not remembering."""
    fresh = make_canaries(len(planted), [1], seed=_CONTROL_SEED + seed)
    secrets = {record["secret"] for record in planted}
    return [{**asdict(c), "id": f"unplanted/{c.id}", "repeats": 0} for c in fresh if c.secret not in secrets]


def _canaries(run: LoadedRun, dataset: Dataset, cfg: MemorizationConfig) -> dict[str, dict[str, float | int]] | None:
    """Per repeat count (and "unplanted", the control): how many canaries and the share completed."""
    records = (dataset.manifest.stats or {}).get("canaries")
    if not records:
        return None
    tok = run.tokenizer
    start = [tok.bos_id if tok.bos_id is not None else tok.eos_id]  # what precedes a document in training
    everything = [*records, *unplanted_canaries(records, cfg.seed)]
    inputs = mem.canary_inputs(everything, lambda text: tok.tokenizer.encode(text).ids, start)
    results = mem.canary_check(run.model, inputs, cfg.batch_size)
    return {("unplanted" if k == 0 else str(k)): v for k, v in mem.canaries_by_repeats(results).items()}


def probe_run(cfg: MemorizationConfig) -> dict:
    run = load_run(cfg.checkpoint)
    dataset, consumed = _probed_dataset(run, cfg.data.path)
    if consumed == 0:
        raise UserError(f"checkpoint {run.checkpoint.path}: no sample of {dataset.label} trained yet")
    trained = trained_sequences(run, dataset, consumed, cfg.num_sequences, cfg.seed)
    control = val_sequences(dataset, len(trained), cfg.seed)
    result = mem.probe(run.model, trained, control, cfg.prefix_tokens, cfg.suffix_tokens, cfg.batch_size)
    result["checkpoint"] = run.checkpoint.path
    result["dataset"] = dataset.label
    canaries = _canaries(run, dataset, cfg)
    if canaries is not None:
        result["canaries"] = canaries
    return result


ConfigStore.instance().store(name="memorization_schema", node=MemorizationConfig)


@hydra_entry("memorization")
def main(cfg: DictConfig) -> None:
    probe_cfg: MemorizationConfig = to_object(cfg)
    validate(probe_cfg)
    line = json.dumps(probe_run(probe_cfg))
    if probe_cfg.out:
        with open(probe_cfg.out, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
    print(line, flush=True)
