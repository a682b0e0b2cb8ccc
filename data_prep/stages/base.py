"""The one Stage interface: every document stage (clean, filters, decontam, dedup) implements it.

A stage looks at one document at a time: ``process(doc, stats)`` returns the (possibly rewritten) document
or the rejection reason; ``run_stages`` chains stages lazily and counts every rejection as ``stage/reason``.
Constructors only read the config (stages are built in the main process to validate it, and again in each
worker); ``setup()`` runs once per worker before the first document, the place for expensive state (a
model checkpoint to score perplexity, a classifier to train) that should not be pickled or repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from data_prep.document import Document, Stats


class Stage:
    """Base of every per-document stage. ``name`` is the prefix of its rejection counters."""

    name: str = "stage"

    def setup(self) -> None:
        """Per-worker initialisation; the default stage needs none."""

    def process(self, doc: Document, stats: Stats) -> Document | str:
        """Return the document (possibly rewritten) or a rejection reason."""
        raise NotImplementedError


def setup_stages(stages: Sequence[Stage]) -> list[Stage]:
    """Run every stage's ``setup()`` (once per worker process); return the stages, ready to use."""
    for stage in stages:
        stage.setup()
    return list(stages)


def run_stages(docs: Iterable[Document], stages: Sequence[Stage], stats: Stats) -> Iterator[Document]:
    """Chain per-document stages lazily; every rejection is counted as ``stage/reason``."""
    for doc in docs:
        current: Document | str = doc
        for stage in stages:
            current = stage.process(current, stats)
            if isinstance(current, str):
                stats.reject(stage.name, current)
                break
        else:
            yield current
