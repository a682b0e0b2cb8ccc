"""Held-out masked-LM metrics for ``python -m train.evaluate`` on an MLM checkpoint.

The rows are masked exactly as in training (the run's seed, the rule from its config), keyed by a
stable row id, so two evaluations of the same checkpoint and data give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from openpretrain.errors import UserError
from train.objectives.objective import Objective


@dataclass
class MaskedTotals:
    nats: float = 0.0
    correct: int = 0
    labelled: int = 0

    def add(self, model, objective: Objective, table: np.ndarray, row_ids: list[str]) -> None:
        """table: (batch, seq_len + 1) ids, padding < 0 (never selected: it is not an ordinary token)."""
        rows = objective.make_rows(np.maximum(table, 0), row_ids, [[0]] * len(table))
        targets = torch.from_numpy(rows.targets)
        targets[torch.from_numpy(table[:, :-1] < 0)] = objective.ignore_index
        with torch.inference_mode():
            loss, counts = objective.loss(model, torch.from_numpy(rows.inputs), targets)
        correct, labelled = (int(c) for c in counts.tolist())
        self.nats += float(loss) * labelled
        self.correct += correct
        self.labelled += labelled

    def report(self) -> dict:
        if self.labelled == 0:
            raise UserError("nothing to evaluate: no token of the split or file was selected for masking")
        loss = self.nats / self.labelled
        return {"masked_tokens": self.labelled, "mlm_loss": loss, "loss": loss,
                "masked_accuracy": self.correct / self.labelled}
