"""The prepared datasets a run reads: their manifests, labels and mixture weights (Contract 2 → train)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from openpretrain.errors import ConfigError, UserError
from openpretrain.manifest import Manifest, ShardInfo, load_manifest, sample_key
from train.config import OnCorrupt, TrainConfig
from train.data.shard_check import ALL_FILES, ShardProblem, Stripe, find_shard_problems, report_shard_problems
from train.data.synthetic_share import check_synthetic_cap

_SHARD_NUMBER = re.compile(r"shard-(\d+)\.tar$")


@dataclass
class Dataset:
    """One prepared dataset in the run: where it is, its share of the mix and the name in its sample ids."""

    label: str
    weight: float
    manifest: Manifest

    def shards(self, split: str) -> list[ShardInfo]:
        return self.manifest.shards_for(split)

    def sample_id(self, shard: ShardInfo, index: int) -> str:
        """Stable id "dataset/split/shard_index": the same sample has the same id in every run."""
        return f"{self.label}/{shard.split}/{sample_key(shard_number(shard), index)}"

    def fingerprint(self, split: str) -> str:
        """Identity of a split's content (its shards' checksums), whatever the directory is called now."""
        digest = hashlib.sha256()
        for shard in self.shards(split):
            digest.update(f"{shard.path}:{shard.sha256}:{shard.samples};".encode())
        return digest.hexdigest()[:16]


def shard_number(shard: ShardInfo) -> int:
    """The shard's number as written in its file name (``train/shard-000007.tar`` → 7)."""
    match = _SHARD_NUMBER.search(shard.path)
    if match is None:
        raise UserError(f"unexpected shard file name {shard.path!r} (expected .../shard-NNNNNN.tar)")
    return int(match.group(1))


@dataclass
class DataInfo:
    """What the model and the loop need to know about the data before the first batch."""

    vocab_size: int
    seq_len: int  # tokens per training row (the manifest's seq_len, or cfg.seq_len when it crops)
    eos_id: int
    tokenizer_path: str
    bytes_per_token: float | None  # mixture-weighted; None when a manifest does not record it
    manifests: list[Manifest]
    datasets: list[Dataset] = field(default_factory=list)
    shard_problems: list[ShardProblem] = field(default_factory=list)  # this rank's stripe, not yet agreed on


def load_datasets(cfg: TrainConfig) -> list[Dataset]:
    """Read every manifest named by ``data.path`` or ``data.mix``; weights are normalised to sum to 1."""
    if cfg.data.mix:
        entries = [(e.path, e.weight, e.name) for e in cfg.data.mix]
    else:
        entries = [(cfg.data.path, 1.0, None)]
    total = sum(weight for _, weight, _ in entries)
    datasets = [
        Dataset(label=name or _default_label(path), weight=weight / total, manifest=load_manifest(path))
        for path, weight, name in entries
    ]
    labels = [d.label for d in datasets]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError("data.mix", f"dataset names must be unique, {duplicates} repeats "
                          "(set data.mix[i].name to tell them apart)")
    _check_same_tokenizer(datasets)
    if cfg.data.max_synthetic_share is not None:
        # Enforced here, from the manifests' provenance, not trusted to whoever wrote the mix.
        check_synthetic_cap([(d.label, d.weight, d.manifest.provenance) for d in datasets],
                            cfg.data.max_synthetic_share)
    return datasets


def _default_label(path: str) -> str:
    return os.path.basename(os.path.normpath(path)) or "data"


def _check_same_tokenizer(datasets: list[Dataset]) -> None:
    first = datasets[0]
    for other in datasets[1:]:
        if other.manifest.tokenizer.sha256 != first.manifest.tokenizer.sha256:
            raise UserError(
                f"datasets in data.mix use different tokenizers: {first.label} "
                f"({first.manifest.tokenizer_path}) vs {other.label} ({other.manifest.tokenizer_path}); "
                "prepare them with the same tokenizer (tokenizer=file tokenizer.path=...)"
            )


def training_seq_len(cfg: TrainConfig, datasets: list[Dataset]) -> int:
    """cfg.seq_len crops every sample; without it all datasets must share one seq_len."""
    lengths = {d.label: d.manifest.seq_len for d in datasets}
    if cfg.seq_len is not None:
        too_long = {k: v for k, v in lengths.items() if v < cfg.seq_len}
        if too_long:
            raise ConfigError("seq_len", f"{cfg.seq_len} exceeds the prepared seq_len of {too_long}; "
                              "use a value <= the data's seq_len or re-run data_prep")
        return cfg.seq_len
    if len(set(lengths.values())) > 1:
        raise ConfigError("seq_len", f"datasets have different seq_len {lengths}; set seq_len to crop them")
    return next(iter(lengths.values()))


def data_info(cfg: TrainConfig, stripe: Stripe = ALL_FILES) -> DataInfo:
    """Everything about the run's data, from one read of each manifest: build it once per process and
    hand it on (``build_train_data``/``build_val_batches``/``run_objective`` take it).

    Shard files are checked here when this process checks them all (the default stripe); a training rank
    passes its stripe and settles ``shard_problems`` with the other ranks once the group is up."""
    datasets = load_datasets(cfg)
    problems = find_shard_problems(datasets, stripe)
    if stripe.count == 1:
        report_shard_problems(problems, skip_corrupt=cfg.data.on_corrupt == OnCorrupt.skip)
    tokenizer = datasets[0].manifest.tokenizer
    per_token = [d.manifest.bytes_per_token for d in datasets]
    bytes_per_token = None
    if all(b is not None for b in per_token):
        bytes_per_token = sum(d.weight * b for d, b in zip(datasets, per_token))
    return DataInfo(
        vocab_size=tokenizer.vocab_size,
        seq_len=training_seq_len(cfg, datasets),
        eos_id=tokenizer.eos_id,
        tokenizer_path=datasets[0].manifest.tokenizer_path,
        bytes_per_token=bytes_per_token,
        manifests=[d.manifest for d in datasets],
        datasets=datasets,
        shard_problems=problems if stripe.count > 1 else [],
    )
