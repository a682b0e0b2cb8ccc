"""Script rules of CJK corpora: a minimum share of the language's own characters, a minimum length in
characters (word counts mean little before segmentation), optional Traditional -> Simplified Chinese.

Rejections: ``script/too_short`` (fewer than ``min_chars`` non-space characters), ``script/low_share``
(letters in ``scripts`` below ``min_fraction`` of all letters). With ``traditional_to_simplified=convert``
the kept text is converted with OpenCC's ``t2s`` tables (phrase-aware, not character by character) and
``meta["converted_t2s"]`` says the text changed; counted as ``script/t2s_converted``. ``keep_both`` adds
a converted copy of each changed document before the stages instead (``simplified_copies``), so the
original and the simplified text are both judged and both kept when they pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.scripts import letter_chars, script_chars


def t2s_converter():
    import opencc

    return opencc.OpenCC("t2s")


def simplified_copies(docs: Iterable[Document], stats: Stats) -> Iterator[Document]:
    """Each document, then (when OpenCC changes it) its Simplified copy ``<id>#t2s``; copies count in
    ``docs_in`` like any document (``script/t2s_copies``)."""
    converter = t2s_converter()
    for doc in docs:
        yield doc
        converted = converter.convert(doc.text)
        if converted != doc.text:
            stats.docs_in += 1
            stats.count("script/t2s_copies")
            yield replace(doc, id=f"{doc.id}#t2s", text=converted, meta={**doc.meta, "converted_t2s": True})


class ScriptFilter(Stage):
    name = "script"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.scripts = tuple(cfg.scripts)
        self._converter = None

    def setup(self) -> None:
        if self.cfg.traditional_to_simplified == "convert":
            self._converter = t2s_converter()

    def check(self, text: str) -> str | None:
        cfg = self.cfg
        if sum(map(len, text.split())) < cfg.min_chars:
            return "too_short"
        letters = letter_chars(text)
        own = sum(script_chars(text, script) for script in self.scripts)
        if letters == 0 or own / letters < cfg.min_fraction:
            return "low_share"
        return None

    def process(self, doc: Document, stats: Stats) -> Document | str:
        reason = self.check(doc.text)
        if reason is not None:
            return reason
        if self._converter is None:
            return doc
        converted = self._converter.convert(doc.text)
        if converted == doc.text:
            return doc
        stats.count("script/t2s_converted")
        return replace(doc, text=converted, meta={**doc.meta, "converted_t2s": True})
