"""``python -m train.evaluate checkpoint=RUN_DIR|HF_DIR [data.path=DIR data.split=val | text_file=FILE]``

Held-out loss, perplexity and bits per byte, printed as one JSON object on stdout (and written to
``out`` when set). Two sources:

- a prepared shard set (Contract 2; by default the run's own data, ``val`` split): every sample's
  ``seq_len`` next-token predictions. Bits per byte use the manifest's UTF-8 bytes per token.
- a raw UTF-8 text file, tokenized with the run's tokenizer: the text follows one EOS/BOS token (the
  context every document had in training) and is cut into windows of ``seq_len`` predictions. Every
  token of the file is predicted once, so bits per byte = total nats / ln 2 / the file's UTF-8 bytes.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from openpretrain.cli import hydra_entry, to_object
from openpretrain.errors import ConfigError, UserError, require

log = logging.getLogger(__name__)

IGNORE = -100


@dataclass
class EvalDataConfig:
    path: str | None = MISSING  # a data_prep output dir; None = the run's (first) dataset
    split: str = MISSING


@dataclass
class EvaluateConfig:
    checkpoint: str = MISSING  # a run dir (newest complete checkpoint), run_dir/checkpoints/step_N, or an HF folder
    data: EvalDataConfig = field(default_factory=EvalDataConfig)
    text_file: str | None = MISSING  # evaluate this UTF-8 file instead of shards
    tokenizer: str | None = MISSING  # None = the run's tokenizer (from its data manifest)
    seq_len: int | None = MISSING  # predictions per row; None = the run's training seq_len
    batch_size: int = MISSING
    max_batches: int | None = MISSING  # None = the whole split / file
    out: str | None = MISSING  # also write the JSON here


def register() -> None:
    ConfigStore.instance().store(name="evaluate_schema", node=EvaluateConfig)


def validate(cfg: EvaluateConfig) -> None:
    require(bool(cfg.checkpoint), "checkpoint", "must name a run dir or a checkpoint dir")
    require(cfg.batch_size >= 1, "batch_size", f"must be >= 1, got {cfg.batch_size}")
    if cfg.seq_len is not None:
        require(cfg.seq_len >= 1, "seq_len", f"must be >= 1, got {cfg.seq_len}")
    if cfg.max_batches is not None:
        require(cfg.max_batches >= 1, "max_batches", f"must be >= 1, got {cfg.max_batches}")
    if cfg.text_file is not None and cfg.data.path is not None:
        raise ConfigError("text_file", "give either text_file or data.path, not both")
    if cfg.text_file is not None and not os.path.isfile(cfg.text_file):
        raise UserError(f"text_file: file not found: {cfg.text_file}")  # before the slow checkpoint load


@dataclass
class Totals:
    nats: float = 0.0
    tokens: int = 0

    def add(self, model, rows) -> None:
        """rows: (batch, seq_len + 1) token ids; targets equal to IGNORE are not scored."""
        import torch
        import torch.nn.functional as F

        inputs, targets = rows[:, :-1].clamp(min=0), rows[:, 1:]
        with torch.inference_mode():
            logits = model(inputs).float()
        self.nats += float(F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                                           reduction="sum"))
        self.tokens += int((targets != IGNORE).sum())

    def report(self, byte_count: float | None) -> dict:
        if self.tokens == 0:
            raise UserError("nothing to evaluate: the split or file yields no tokens")
        loss = self.nats / self.tokens
        bpb = None if not byte_count else self.nats / math.log(2) / byte_count
        return {"tokens": self.tokens, "loss": loss, "perplexity": math.exp(min(loss, 700.0)), "bits_per_byte": bpb}


def _batches(rows: Iterator[list[int]], batch_size: int, max_batches: int | None) -> Iterator:
    """Stack rows into tensors, padding short ones with IGNORE."""
    import torch

    batch: list[list[int]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) == batch_size:
            yield _stack(batch, torch)
            batch, count = [], count + 1
            if max_batches is not None and count >= max_batches:
                return
    if batch:
        yield _stack(batch, torch)


def _stack(batch: list[list[int]], torch):
    width = max(len(row) for row in batch)
    return torch.tensor([row + [IGNORE] * (width - len(row)) for row in batch], dtype=torch.long)


def shard_rows(data_path: str, split: str, seq_len: int, tokenizer_sha256: str) -> tuple[Iterator, object]:
    """Rows (``seq_len + 1`` ids) of every sample in the split, read with webdataset; and the manifest."""
    import io

    import numpy as np
    import webdataset as wds

    from openpretrain.manifest import TOKENS_EXT, load_manifest

    manifest = load_manifest(data_path)
    shards = manifest.shards_for(split)
    if not shards:
        raise UserError(f"data.split: {data_path} has no '{split}' shards (splits: "
                        f"{sorted({s.split for s in manifest.shards})})")
    if seq_len > manifest.seq_len:
        raise ConfigError("seq_len", f"{seq_len} exceeds the data's seq_len={manifest.seq_len}")
    if manifest.tokenizer.sha256 != tokenizer_sha256:
        raise UserError(f"data.path: {data_path} was tokenized with another tokenizer than the model's "
                        f"(sha256 {manifest.tokenizer.sha256[:12]} vs {tokenizer_sha256[:12]}); "
                        "prepare it with tokenizer=file tokenizer.path=<the run's tokenizer.json>")
    urls = [manifest.shard_path(s) for s in shards]

    def rows() -> Iterator[list[int]]:
        for sample in wds.WebDataset(urls, shardshuffle=False, empty_check=False):
            tokens = np.load(io.BytesIO(sample[TOKENS_EXT]))
            yield tokens[: seq_len + 1].astype(np.int64).tolist()

    return rows(), manifest


def text_rows(ids: list[int], seq_len: int) -> Iterator[list[int]]:
    """Windows of seq_len + 1 ids overlapping by one: every id after the first is a target exactly once."""
    for start in range(0, len(ids) - 1, seq_len):
        yield ids[start : start + seq_len + 1]


def training_seq_len(run_cfg: DictConfig) -> int:
    from train.load import first_data_path

    if run_cfg.get("seq_len"):
        return int(run_cfg.seq_len)
    from openpretrain.manifest import load_manifest

    return load_manifest(first_data_path(run_cfg)).seq_len


def default_seq_len(loaded, data_path: str | None) -> int:
    """The run's training seq_len; an HF folder records none, so the data's (a text file needs seq_len=N)."""
    from openpretrain.manifest import load_manifest

    if loaded.checkpoint is not None:
        return training_seq_len(loaded.cfg)
    if data_path is None:
        raise ConfigError("seq_len", f"{loaded.path} is a Hugging Face folder, which records no training length: "
                          "pass seq_len=N")
    return load_manifest(data_path).seq_len


def evaluate(cfg: EvaluateConfig) -> dict:
    from train.load import first_data_path, load_run

    loaded = load_run(cfg.checkpoint, cfg.tokenizer)
    data_path = None if cfg.text_file is not None else cfg.data.path or first_data_path(loaded.cfg)
    if cfg.text_file is None and data_path is None:
        raise ConfigError("data.path", f"{loaded.path} is a Hugging Face folder, which names no data: pass "
                          "data.path=DIR or text_file=FILE")
    seq_len = cfg.seq_len or min(default_seq_len(loaded, data_path), loaded.args.max_seq_len)
    require(seq_len <= loaded.args.max_seq_len, "seq_len",
            f"{seq_len} exceeds the model's max_seq_len={loaded.args.max_seq_len}")
    totals = Totals()
    result: dict = {"checkpoint": loaded.path, "step": loaded.step, "seq_len": seq_len}
    if cfg.text_file is not None:
        with open(cfg.text_file, encoding="utf-8") as fh:
            text = fh.read()
        tok = loaded.tokenizer
        start = tok.bos_id if tok.bos_id is not None else tok.eos_id
        ids = [start] + tok.tokenizer.encode(text, add_special_tokens=False).ids
        rows = text_rows(ids, seq_len)
        byte_count: float | None = len(text.encode("utf-8"))
        result.update(source="text_file", text_file=os.path.abspath(cfg.text_file), bytes=byte_count)
    else:
        rows, manifest = shard_rows(data_path, cfg.data.split, seq_len, loaded.tokenizer.sha256)
        byte_count = None
        result.update(source="shards", data_path=os.path.abspath(data_path), split=cfg.data.split)
    for batch in _batches(rows, cfg.batch_size, cfg.max_batches):
        totals.add(loaded.model, batch)
    if cfg.text_file is None and manifest.bytes_per_token:
        byte_count = totals.tokens * manifest.bytes_per_token  # corpus-average bytes per token
    result.update(totals.report(byte_count))
    return result


register()


@hydra_entry("evaluate")
def main(cfg: DictConfig) -> None:
    eval_cfg: EvaluateConfig = to_object(cfg)
    validate(eval_cfg)
    result = evaluate(eval_cfg)
    line = json.dumps(result)
    if eval_cfg.out:
        with open(eval_cfg.out, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
