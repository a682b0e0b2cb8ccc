"""The training objective as the loader sees it: packed rows of ``seq_len + 1`` ids -> (inputs, targets).

``make_rows`` runs in the data reader threads on every micro batch. It is a pure function of the rows,
their sample ids and the run's seed, so exact resume and world-size changes need no objective state; the
checkpointed ``state_dict`` only records which objective (and settings) produced the run's batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from openpretrain.errors import UserError
from train.objectives.config import ObjectiveConfig, ObjectiveName
from train.objectives.fim import FimTokens, fim_row
from train.objectives.mlm import MaskingRule, mask_row, ordinary_ids
from train.objectives.seeding import sample_rng


@dataclass
class Rows:
    """Model inputs and targets of one micro batch (numpy int64, shape [n, seq_len])."""

    inputs: np.ndarray
    targets: np.ndarray
    doc_starts: list[list[int]]


def shifted(table: np.ndarray, doc_starts: list[list[int]], seq_len: int) -> Rows:
    """Causal LM: predict token t+1 from tokens <= t."""
    starts = [[s for s in row if s < seq_len] or [0] for row in doc_starts]
    return Rows(table[:, :-1].copy(), table[:, 1:].copy(), starts)


class Objective:
    """Causal LM; the base of the others. ``causal`` is the attention the model must use."""

    name = ObjectiveName.clm
    causal = True
    num_counts = 0  # length of the counts ``loss`` returns

    def __init__(self, cfg: ObjectiveConfig, seed: int, ignore_index: int) -> None:
        self.cfg, self.seed, self.ignore_index = cfg, seed, ignore_index

    def make_rows(self, table: np.ndarray, sample_ids: list[str], doc_starts: list[list[int]]) -> Rows:
        return shifted(table, doc_starts, table.shape[1] - 1)

    def make_val_rows(self, table: np.ndarray, sample_ids: list[str], doc_starts: list[list[int]]) -> Rows:
        """Validation rows: what the val loss is computed on (plain next-token text unless overridden)."""
        return shifted(table, doc_starts, table.shape[1] - 1)

    # -- the step ------------------------------------------------------------------------------------------
    def loss(self, model, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to backpropagate, per-micro-batch counts to sum over steps and ranks; empty for CLM/FIM).

        ``model`` is the DeepSpeed engine in training, the bare Transformer elsewhere.
        """
        return model(inputs, targets=targets), torch.zeros(0, device=inputs.device)

    def metrics(self, counts: torch.Tensor, prefix: str = "") -> dict[str, float]:
        """Metrics from the counts summed by ``loss`` (over micro batches and ranks)."""
        return {}

    @property
    def reports_perplexity(self) -> bool:
        """Whether val loss is a next-token loss (perplexity and bits per byte then mean something)."""
        return self.causal

    # -- state ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name.value, "seed": self.seed, "fim": dict(vars(self.cfg.fim)),
                "mlm": dict(vars(self.cfg.mlm))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Checkpoints of runs from before objectives carry no entry: they were causal LM."""
        saved = (state or {}).get("name", ObjectiveName.clm.value)
        if saved == ObjectiveName.mlm.value and self.causal or saved != ObjectiveName.mlm.value and not self.causal:
            raise UserError(f"cannot resume: the checkpoint was trained with objective={saved}, this run has "
                            f"objective={self.name.value}; causal and bidirectional attention do not mix "
                            f"(use a new run_dir)")


class FimObjective(Objective):
    name = ObjectiveName.fim

    def __init__(self, cfg: ObjectiveConfig, seed: int, ignore_index: int, tokens: FimTokens, eos_id: int) -> None:
        super().__init__(cfg, seed, ignore_index)
        self.tokens, self.eos_id = tokens, eos_id

    def make_rows(self, table, sample_ids, doc_starts) -> Rows:
        out = np.empty_like(table)
        new_starts = []
        for i, (row, sample_id, starts) in enumerate(zip(table, sample_ids, doc_starts)):
            rng = sample_rng(self.seed, self.name.value, sample_id)
            out[i], row_starts, _ = fim_row(row, starts, rng, self.cfg.fim.rate, self.cfg.fim.spm_rate,
                                            self.tokens, self.eos_id)
            new_starts.append(row_starts)
        return shifted(out, new_starts, table.shape[1] - 1)


class MlmObjective(Objective):
    name = ObjectiveName.mlm
    causal = False
    num_counts = 2  # (correct, labelled)

    def __init__(self, cfg: ObjectiveConfig, seed: int, ignore_index: int, rule: MaskingRule) -> None:
        super().__init__(cfg, seed, ignore_index)
        self.rule, self.ordinary = rule, ordinary_ids(rule)

    def make_rows(self, table, sample_ids, doc_starts) -> Rows:
        seq_len = table.shape[1] - 1
        inputs = np.empty((len(table), seq_len), dtype=np.int64)
        targets = np.empty_like(inputs)
        for i, (row, sample_id) in enumerate(zip(table, sample_ids)):
            rng = sample_rng(self.seed, self.name.value, sample_id)
            inputs[i], targets[i] = mask_row(row[:seq_len], rng, self.rule, self.ordinary, self.ignore_index)
        return Rows(inputs, targets, [[s for s in row if s < seq_len] or [0] for row in doc_starts])

    def loss(self, model, inputs, targets):
        loss, correct = model(inputs, targets=targets, labelled_only=True)
        labelled = (targets != self.ignore_index).sum()
        return loss, torch.stack([correct, labelled]).float()

    def metrics(self, counts, prefix=""):
        correct, labelled = counts.tolist()
        return {f"{prefix}masked_accuracy": correct / labelled if labelled else None,
                f"{prefix}masked_tokens": int(labelled)}

    # A bidirectional model has no next-token loss: validation is the masked loss on deterministically
    # masked val rows (the same masking for a val sample at every evaluation).
    make_val_rows = make_rows

