"""Minimal cleaning every pipeline starts with: Unicode normalisation, strip, length limits."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage

if TYPE_CHECKING:  # data_prep.config imports the stage configs, so only for the type checker
    from data_prep.config import PipelineConfig


class CleanStage(Stage):
    """Normalise (NFC by default) and strip; reject ``empty``, ``too_short`` and ``too_long`` documents."""

    name = "clean"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.form = None if cfg.normalize == "none" else cfg.normalize
        self.min_chars = cfg.min_chars
        self.max_chars = cfg.max_chars

    def process(self, doc: Document, stats: Stats) -> Document | str:
        text = doc.text
        if self.form and not unicodedata.is_normalized(self.form, text):
            text = unicodedata.normalize(self.form, text)
        text = text.strip()
        if not text:
            return "empty"
        if len(text) < self.min_chars:
            return "too_short"
        if len(text) > self.max_chars:
            return "too_long"
        doc.text = text
        return doc
