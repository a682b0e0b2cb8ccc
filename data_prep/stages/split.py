"""Long documents become parts instead of one ``clean/too_long`` rejection.

A book or a long report in one ``.txt`` file is a fine pretraining document, only too long for the
per-document rules (a 1 MB text fails every ratio the way a short spam page would not). A document
longer than ``pipeline.max_chars`` is cut at paragraph boundaries (blank lines) into parts of at most
``max_chars`` characters; a paragraph longer than that is cut at line boundaries. Each part then goes
through every stage on its own, with the id ``<doc id>@<part>`` and ``meta["part"]`` / ``["parts"]``.
Only a single line longer than ``max_chars`` (no boundary to cut at) is still rejected as
``clean/too_long``, by the clean stage.

Accounting: the source counted the document once in ``docs_in``; a document split into k parts adds
k - 1, so ``docs_in == docs_written + rejected`` keeps holding. Counters: ``split/docs``, ``split/parts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from data_prep.document import Document, Stats

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def _pieces(text: str, max_chars: int) -> Iterator[tuple[str, str]]:
    """(piece, separator before it): paragraphs, or the lines of a paragraph longer than max_chars."""
    for paragraph in _PARAGRAPH_BREAK.split(text):
        if len(paragraph) <= max_chars:
            yield paragraph, "\n\n"
            continue
        for i, line in enumerate(paragraph.split("\n")):
            yield line, "\n" if i else "\n\n"


def split_text(text: str, max_chars: int) -> list[str]:
    """Consecutive pieces packed greedily into parts of at most max_chars (a longer single line stays one
    part of its own); paragraph and line breaks inside a part are kept."""
    parts: list[str] = []
    current = ""
    for piece, separator in _pieces(text, max_chars):
        if not piece.strip():
            continue
        if current and len(current) + len(separator) + len(piece) > max_chars:
            parts.append(current)
            current = ""
        current = f"{current}{separator}{piece}" if current else piece
    if current:
        parts.append(current)
    return parts


def split_long_documents(docs: Iterable[Document], max_chars: int, stats: Stats) -> Iterator[Document]:
    for doc in docs:
        if len(doc.text) <= max_chars:
            yield doc
            continue
        parts = split_text(doc.text, max_chars)
        if len(parts) <= 1:  # blank, or one line with nothing to cut at: the clean stage rejects it whole
            yield doc
            continue
        stats.docs_in += len(parts) - 1
        stats.count("split/docs")
        stats.count("split/parts", len(parts))
        for i, part in enumerate(parts):
            yield replace(doc, id=f"{doc.id}@{i}", text=part, meta={**doc.meta, "part": i, "parts": len(parts)})
