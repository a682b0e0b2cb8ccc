"""The merge step: every task's result (its completion marker) -> the one ``manifest.json`` (Contract 2)."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer

import openpretrain
from data_prep.config import PrepConfig
from data_prep.document import Stats
from data_prep.output import run_info
from data_prep.output.accounting import Provenance
from data_prep.output.tokenizer import tokenizer_info
from data_prep.stages.bias import bias_table
from openpretrain.errors import UserError
from openpretrain.manifest import FORMAT_VERSION, TOKENIZER_NAME, Manifest, ShardInfo, token_dtype_for


def merged_stats(results: list[dict[str, Any]], provenance: Provenance, shards: list[ShardInfo]) -> dict[str, Any]:
    total = Stats()
    for result in results:
        total.merge(Stats.from_dict(result["stats"]))
    stats = total.to_dict()
    stats.update({
        "text_bytes": provenance.text_bytes,
        "text_tokens": provenance.text_tokens,
        "samples": {split: sum(s.samples for s in shards if s.split == split) for split in ("train", "val")},
        "tokens_written": sum(s.tokens for s in shards),
        "tasks": [{"task_id": r["task_id"], **r["stats"]} for r in results],
    })
    bias = bias_table(stats["counters"])
    if bias:
        stats["bias"] = bias  # language -> group -> mentions kept / rejected and the share rejected
    return stats


def remove_all_temps(out_dir: str) -> None:
    """Every task is done at merge time, so any temporary file under out_dir was left by a killed process."""
    for dirpath, _, filenames in os.walk(out_dir):
        for name in filenames:
            if ".tmp" in name:
                os.remove(os.path.join(dirpath, name))


def merge_tasks(cfg: PrepConfig, out_dir: str, results: list[dict[str, Any]], resolved: dict[str, Any],
                work_dir: str | None = None) -> Manifest:
    """``work_dir``: where run-wide facts were recorded (``output.run_info``), merged into stats/provenance."""
    remove_all_temps(out_dir)
    provenance = Provenance()
    shards: list[ShardInfo] = []
    for result in results:
        provenance.merge(Provenance.from_dict(result["provenance"]))
        shards.extend(ShardInfo(**s) for s in result["shards"])
    shards.sort(key=lambda s: (s.split != "train", s.path))
    tok_path = os.path.join(out_dir, TOKENIZER_NAME)
    if not os.path.exists(tok_path):
        raise UserError(f"cannot merge: {tok_path} is missing (run the tasks first)")
    info = tokenizer_info(Tokenizer.from_file(tok_path), cfg.tokenizer, tok_path)
    recorded = run_info.load(work_dir) if work_dir else {"stats": {}, "provenance": {}}
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        seq_len=cfg.seq_len,
        token_dtype=token_dtype_for(info.vocab_size),
        tokenizer=info,
        shards=shards,
        stats={**merged_stats(results, provenance, shards), **recorded["stats"]},
        provenance={**provenance.to_dict(), **recorded["provenance"]},
        config=resolved,
        tool_version=openpretrain.__version__,
        root=out_dir,
    )
    manifest.write(out_dir)
    return manifest
