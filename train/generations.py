"""The ``generations`` table: fixed prompts continued by the model at every eval, so a person sees it learn.

Every rank samples (under ZeRO-3 each forward needs all ranks); the sampler has its own seeded
generator, so the training RNG stream (and with it exact resume) is untouched. Rank 0 appends the rows
to ``run_dir/generations.jsonl`` (the table survives a resume: rows after the resumed step are
dropped, as they are trained again) and logs the whole table to W&B.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch
from tokenizers import Tokenizer

from openpretrain.manifest import TokenizerInfo
from train.config import GenerationsConfig
from train.generate import Sampling, generate_tokens, prompt_ids
from train.load import RunTokenizer

GENERATIONS_FILE = "generations.jsonl"
COLUMNS = ("step", "prompt", "continuation")


def training_tokenizer(path: str, info: TokenizerInfo) -> RunTokenizer:
    """The data's tokenizer with the special ids its manifest records (what training sees)."""
    return RunTokenizer(path=path, tokenizer=Tokenizer.from_file(path), eos_id=info.eos_id, bos_id=info.bos_id,
                        sha256=info.sha256)


class GenerationProbe:
    def __init__(self, cfg: GenerationsConfig, tokenizer: RunTokenizer, run_dir: str, is_main: bool,
                 resume_step: int) -> None:
        self.cfg, self.tokenizer, self.is_main = cfg, tokenizer, is_main
        self.path = os.path.join(run_dir, GENERATIONS_FILE)
        self.rows = self._earlier_rows(resume_step) if is_main else []

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.prompts)

    def _earlier_rows(self, resume_step: int) -> list[dict[str, Any]]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        kept = [row for row in rows if row["step"] <= resume_step]
        if len(kept) != len(rows):  # a crash after the last checkpoint: those steps are trained again
            with open(self.path, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(row) + "\n" for row in kept)
        return kept

    @torch.no_grad()
    def sample(self, model: torch.nn.Module, step: int) -> list[dict[str, Any]]:
        """Continue every prompt (same seed each time: differences come from the weights alone)."""
        tok, cfg = self.tokenizer, self.cfg
        sampling = Sampling(temperature=cfg.temperature, top_k=cfg.top_k)
        was_training = model.training
        model.eval()
        rows = []
        for prompt in cfg.prompts:
            [ids] = generate_tokens(model, prompt_ids(tok, prompt), cfg.max_new_tokens, sampling, 1, cfg.seed,
                                    tok.eos_id, tok.vocab_size)
            rows.append({"step": step, "prompt": prompt,
                         "continuation": tok.tokenizer.decode(ids, skip_special_tokens=True)})
        model.train(was_training)
        if self.is_main:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(row) + "\n" for row in rows)
            self.rows += rows
        return rows

    def table_rows(self) -> list[list[Any]]:
        return [[row[column] for column in COLUMNS] for row in self.rows]
