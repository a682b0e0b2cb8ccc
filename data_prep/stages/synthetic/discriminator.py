"""Real-vs-generated discriminator: logistic regression on hashed word n-grams (numpy only).

Trained each loop round on real documents (label 1) and generated ones (label 0). Two uses:
``predict_proba(texts)`` is the probability that a text is real-like (the synthetic pipeline keeps
generated documents above ``discriminator.min_real_prob``), and ``heldout_accuracy`` — how well real and
generated text can be told apart on documents the classifier did not train on — is a collapse signal.

Features: lower-cased whitespace words and their n-grams up to ``ngram_max``, hashed with xxh3 (stable
across processes, unlike Python's ``hash``) into ``n_features`` buckets, log(1 + count), each document
L2-normalised. The classes are weighted to equal total weight and the accuracy is *balanced* (mean
per-class recall), so 0.5 means chance whatever the class sizes. Full-batch Adam, no randomness except
the seeded train/held-out split: the same inputs and seed give the same model.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xxhash

from data_prep.document import Document, Stats
from data_prep.sources.prepared import iter_document_texts
from data_prep.stages.base import Stage
from data_prep.stages.synthetic.state import prepared_once, real_data, stage_dir
from openpretrain.errors import UserError

WEIGHTS_FILE = "discriminator.npz"


@dataclass
class _Sparse:
    """Rows of hashed features: row ``row_ids[k]`` has value ``values[k]`` at column ``columns[k]``."""

    row_ids: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    num_rows: int

    def dot(self, weights: np.ndarray) -> np.ndarray:
        return np.bincount(self.row_ids, self.values * weights[self.columns], minlength=self.num_rows)

    def transpose_dot(self, per_row: np.ndarray, num_columns: int) -> np.ndarray:
        return np.bincount(self.columns, self.values * per_row[self.row_ids], minlength=num_columns)


def hashed_features(texts: Sequence[str], n_features: int, ngram_max: int) -> _Sparse:
    row_ids, columns, values = [], [], []
    for row, text in enumerate(texts):
        tokens = text.lower().split()
        buckets: dict[int, int] = {}
        for n in range(1, ngram_max + 1):
            for i in range(len(tokens) - n + 1):
                key = xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + n]).encode("utf-8", "surrogatepass"), n)
                bucket = key % n_features
                buckets[bucket] = buckets.get(bucket, 0) + 1
        if not buckets:
            continue
        cols = np.fromiter(buckets.keys(), dtype=np.int64, count=len(buckets))
        vals = np.log1p(np.fromiter(buckets.values(), dtype=np.float64, count=len(buckets)))
        row_ids.append(np.full(len(cols), row, dtype=np.int64))
        columns.append(cols)
        values.append(vals / np.linalg.norm(vals))
    if not row_ids:
        empty = np.zeros(0, dtype=np.int64)
        return _Sparse(empty, empty, np.zeros(0), len(texts))
    return _Sparse(np.concatenate(row_ids), np.concatenate(columns), np.concatenate(values), len(texts))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free


class Discriminator:
    def __init__(self, n_features: int = 2**18, ngram_max: int = 2, l2: float = 1e-4, steps: int = 300,
                 learning_rate: float = 0.05, heldout_fraction: float = 0.2, seed: int = 0) -> None:
        if not 0 < heldout_fraction < 1:
            raise UserError(f"discriminator.heldout_fraction: must be in (0, 1), got {heldout_fraction}")
        self.n_features, self.ngram_max, self.l2 = n_features, ngram_max, l2
        self.steps, self.learning_rate = steps, learning_rate
        self.heldout_fraction, self.seed = heldout_fraction, seed
        self.weights: np.ndarray | None = None
        self.bias = 0.0
        self.heldout_accuracy: float | None = None

    def fit(self, real_texts: Sequence[str], generated_texts: Sequence[str]) -> Discriminator:
        """Train on a seeded split of both classes; ``heldout_accuracy`` is measured on the rest."""
        for name, texts in (("real", real_texts), ("generated", generated_texts)):
            if len(texts) < 2:
                raise UserError(f"discriminator: needs at least 2 {name} documents (one to train on, one to "
                                f"hold out), got {len(texts)}")
        rng = np.random.default_rng(self.seed)
        real_train, real_held = self._split(list(real_texts), rng)
        gen_train, gen_held = self._split(list(generated_texts), rng)
        texts = real_train + gen_train
        labels = np.array([1.0] * len(real_train) + [0.0] * len(gen_train))
        self._train(hashed_features(texts, self.n_features, self.ngram_max), labels)
        self.heldout_accuracy = self.balanced_accuracy(real_held, gen_held)
        return self

    def _split(self, texts: list[str], rng: np.random.Generator) -> tuple[list[str], list[str]]:
        order = rng.permutation(len(texts))
        held = min(len(texts) - 1, max(1, round(self.heldout_fraction * len(texts))))
        return [texts[i] for i in order[held:]], [texts[i] for i in order[:held]]

    def _train(self, features: _Sparse, labels: np.ndarray) -> None:
        # Each class carries half of the total weight, so an unbalanced round does not bias the boundary.
        positives = labels.sum()
        sample_weight = np.where(labels == 1.0, 0.5 / positives, 0.5 / (len(labels) - positives))
        params = np.zeros(self.n_features + 1)
        first, second = np.zeros_like(params), np.zeros_like(params)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.steps + 1):
            weights, bias = params[:-1], params[-1]
            residual = (_sigmoid(features.dot(weights) + bias) - labels) * sample_weight
            grad = np.empty_like(params)
            grad[:-1] = features.transpose_dot(residual, self.n_features) + self.l2 * weights
            grad[-1] = residual.sum()
            first = beta1 * first + (1 - beta1) * grad
            second = beta2 * second + (1 - beta2) * grad**2
            update = (first / (1 - beta1**step)) / (np.sqrt(second / (1 - beta2**step)) + eps)
            params -= self.learning_rate * update
        self.weights, self.bias = params[:-1], float(params[-1])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text is real-like (1.0 = looks like the real data)."""
        if self.weights is None:
            raise RuntimeError("fit the discriminator before predicting")
        return _sigmoid(hashed_features(texts, self.n_features, self.ngram_max).dot(self.weights) + self.bias)

    def balanced_accuracy(self, real_texts: Sequence[str], generated_texts: Sequence[str]) -> float:
        """Mean of the recall on real and on generated texts at the 0.5 threshold."""
        real_recall = float(np.mean(self.predict_proba(real_texts) >= 0.5))
        generated_recall = float(np.mean(self.predict_proba(generated_texts) < 0.5))
        return (real_recall + generated_recall) / 2


class DiscriminatorStage(Stage):
    """``discriminator``: keep generated documents scored at least ``min_real_prob`` real-like.

    Trained once per run (``prepare``) on the real dataset's train documents (label real) and this run's
    input documents (the generated ones, label generated), ``max_docs`` of each; the model and its held-out
    balanced accuracy (0.5 = real and generated cannot be told apart) are stored, the accuracy goes to
    ``manifest.stats.discriminator.heldout_accuracy``. Rejections: ``discriminator/not_real_like``.
    """

    name = "discriminator"

    def __init__(self, cfg: Any, prep_cfg: Any) -> None:
        self.cfg, self.prep_cfg = cfg, prep_cfg
        self.folder = stage_dir(prep_cfg, self.name)
        self.model: Discriminator | None = None

    def _new_model(self) -> Discriminator:
        cfg = self.cfg
        return Discriminator(n_features=cfg.n_features, ngram_max=cfg.ngram_max, steps=cfg.steps,
                             heldout_fraction=cfg.heldout_fraction, seed=cfg.seed)

    def prepare(self) -> dict[str, Any]:
        return prepared_once(self.folder, self._train)

    def _generated_texts(self) -> list[str]:
        from data_prep.sources import build_source

        prep = self.prep_cfg
        source = build_source(prep.source, 0, 1, os.path.abspath(prep.out_dir))
        texts = (r.text for r in source.records(None) if isinstance(r.text, str) and r.text.strip())
        return list(itertools.islice(texts, self.cfg.max_docs))

    def _train(self) -> dict[str, Any]:
        real = [t for _, t in iter_document_texts(real_data(self.prep_cfg), "train", self.cfg.max_docs)]
        generated = self._generated_texts()
        model = self._new_model().fit(real, generated)
        os.makedirs(self.folder, exist_ok=True)
        tmp = os.path.join(self.folder, f"tmp{os.getpid()}-{WEIGHTS_FILE}")
        np.savez(tmp, weights=model.weights, bias=np.array(model.bias))
        os.replace(tmp, os.path.join(self.folder, WEIGHTS_FILE))
        return {"heldout_accuracy": model.heldout_accuracy, "real_docs": len(real), "generated_docs": len(generated),
                "min_real_prob": self.cfg.min_real_prob}

    def setup(self) -> None:
        self.prepare()
        model = self._new_model()
        with np.load(os.path.join(self.folder, WEIGHTS_FILE)) as data:
            model.weights, model.bias = data["weights"], float(data["bias"])
        self.model = model

    def process(self, doc: Document, stats: Stats) -> Document | str:
        assert self.model is not None, "setup() first"
        prob = float(self.model.predict_proba([doc.text])[0])
        doc.meta["real_prob"] = prob
        return doc if prob >= self.cfg.min_real_prob else "not_real_like"
