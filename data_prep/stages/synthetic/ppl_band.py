"""``ppl``: keep generated documents whose perplexity under a reference checkpoint lies inside a band.

Keeping only the lowest-perplexity generations accelerates model collapse (the tails vanish first;
Gambetta et al. 2024), so this keeps a BAND: by default the [low_quantile, high_quantile] range of the
perplexities of REAL documents under the same reference model (measured once per run on the first
``calibration_docs`` train documents of ``pipeline.real_data``) — generated text as surprising as real
text, not more (garbage) and not less (degenerate repetition). ``ppl.min`` / ``ppl.max`` replace the
quantile bound on their side when set. Rejections: ``ppl/too_low``, ``ppl/too_high``, ``ppl/no_tokens``.

A document is scored on its first ``max_tokens`` tokens after a document boundary (EOS), the way the model
saw documents in training. The reference model is loaded once per worker in ``setup()``.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_prep.document import Document, Stats
from data_prep.sources.prepared import iter_document_texts
from data_prep.stages.base import Stage
from data_prep.stages.synthetic.state import prepared_once, read_summary, real_data, stage_dir
from openpretrain.errors import UserError


@dataclass(frozen=True)
class Band:
    low: float
    high: float

    def verdict(self, ppl: float) -> str | None:
        """None inside the band, else the rejection reason."""
        if ppl < self.low:
            return "too_low"
        if ppl > self.high or math.isnan(ppl):
            return "too_high"
        return None


def band_from(real_ppl: np.ndarray | None, cfg: Any) -> Band:
    """Quantiles of the real perplexities, each side replaced by an absolute bound when one is set."""
    def bound(absolute: float | None, quantile: float, edge: float) -> float:
        if absolute is not None:
            return float(absolute)
        if quantile in (0.0, 1.0):
            return edge
        return float(np.quantile(real_ppl, quantile))

    return Band(bound(cfg.min, cfg.low_quantile, 0.0), bound(cfg.max, cfg.high_quantile, math.inf))


class Scorer:
    """Per-document perplexity under one model: exp(mean next-token loss) after a leading EOS."""

    def __init__(self, model: Any, tokenizer: Any, eos_id: int, max_tokens: int, batch_size: int) -> None:
        self.model, self.tokenizer, self.eos_id = model, tokenizer, eos_id
        self.max_tokens = min(max_tokens, model.args.max_seq_len - 1)
        self.batch_size = batch_size

    def sequence(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids[: self.max_tokens]
        return [self.eos_id, *ids]

    def perplexities(self, texts: list[str]) -> list[float]:
        from train.diversity import document_losses

        seqs = [self.sequence(t) for t in texts]
        scored = [i for i, s in enumerate(seqs) if len(s) >= 2]
        losses = document_losses(self.model, [seqs[i] for i in scored], self.batch_size)
        out = [math.nan] * len(texts)
        for i, loss in zip(scored, losses):
            out[i] = math.exp(min(loss, 700.0))
        return out


@functools.lru_cache(maxsize=2)
def _reference(path: str, device: str) -> tuple[Any, Any, int]:
    """Loaded once per process: the prepare step and a worker in the same process share it."""
    from data_prep.sources.generator import resolve_device
    from train.load import load_run

    run = load_run(path)
    return run.model.to(resolve_device(device)), run.tokenizer.tokenizer, run.tokenizer.eos_id


def load_scorer(cfg: Any) -> Scorer:
    model, tokenizer, eos_id = _reference(os.path.abspath(cfg.reference), cfg.device)
    return Scorer(model, tokenizer, eos_id, cfg.max_tokens, cfg.batch_size)


class PerplexityBandStage(Stage):
    name = "ppl"

    def __init__(self, cfg: Any, prep_cfg: Any) -> None:
        self.cfg, self.prep_cfg = cfg, prep_cfg
        self.folder = stage_dir(prep_cfg, self.name)
        self.scorer: Scorer | None = None
        self.band: Band | None = None

    def prepare(self) -> dict[str, Any]:
        return prepared_once(self.folder, self._calibrate)

    def _calibrate(self) -> dict[str, Any]:
        cfg = self.cfg
        summary: dict[str, Any] = {"reference": os.path.abspath(cfg.reference), "max_tokens": cfg.max_tokens}
        real_ppl = None
        if cfg.min is None or cfg.max is None:
            scorer = load_scorer(cfg)
            texts = [t for _, t in iter_document_texts(real_data(self.prep_cfg), "train", cfg.calibration_docs)]
            real_ppl = np.array([p for p in scorer.perplexities(texts) if not math.isnan(p)])
            if not len(real_ppl):
                raise UserError(f"pipeline.ppl: no real document of {self.prep_cfg.pipeline.real_data} to calibrate "
                                "the band on; set pipeline.ppl.min and pipeline.ppl.max instead")
            summary.update({"calibration_docs": len(real_ppl), "real_ppl_p50": float(np.median(real_ppl)),
                            "low_quantile": cfg.low_quantile, "high_quantile": cfg.high_quantile})
        band = band_from(real_ppl, cfg)
        summary.update({"low": band.low, "high": band.high if math.isfinite(band.high) else None})
        return summary

    def setup(self) -> None:
        self.prepare()
        summary = read_summary(self.folder)
        self.band = Band(summary["low"], math.inf if summary["high"] is None else summary["high"])
        self.scorer = load_scorer(self.cfg)

    def process(self, doc: Document, stats: Stats) -> Document | str:
        assert self.scorer is not None and self.band is not None, "setup() first"
        ppl = self.scorer.perplexities([doc.text])[0]
        if math.isnan(ppl):
            return "no_tokens"
        doc.meta["ppl"] = ppl
        return self.band.verdict(ppl) or doc
