"""The one Stage interface: every document stage (clean, filters, decontam, dedup) implements it.

A stage looks at one document at a time: ``process(doc, stats)`` returns the (possibly rewritten) document
or the rejection reason; ``run_stages`` chains stages lazily and counts every rejection as ``stage/reason``.
Constructors only read the config (stages are built in the main process to validate it, and again in each
worker); ``setup()`` runs once per worker before the first document, the place for expensive state (a
model checkpoint to score perplexity, a classifier to load) that should not be pickled or repeated.
``prepare()`` runs once per run, in the main process, before any worker: run-wide state every worker
must share (perplexity bounds, a trained classifier, an index of the real corpus) is computed there and
written under the run's work dir; its summary goes into the manifest's stats under the stage's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from data_prep.document import Document, Stats


class Stage:
    """Base of every per-document stage. ``name`` is the prefix of its rejection counters."""

    name: str = "stage"

    def setup(self) -> None:
        """Per-worker initialisation; the default stage needs none."""

    def prepare(self) -> dict | None:
        """Once per run, before the workers (idempotent: a rerun reuses what it wrote); a JSON-able summary
        for ``manifest.stats[<name>]``, or None. The default stage has no run-wide state."""
        return None

    def process(self, doc: Document, stats: Stats) -> Document | str:
        """Return the document (possibly rewritten) or a rejection reason."""
        raise NotImplementedError


def setup_stages(stages: Sequence[Stage]) -> list[Stage]:
    """Run every stage's ``setup()`` (once per worker process); return the stages, ready to use."""
    for stage in stages:
        stage.setup()
    return list(stages)


def run_stages(docs: Iterable[Document], stages: Sequence[Stage], stats: Stats,
               observe: Callable[[Document, str | None], None] | None = None) -> Iterator[Document]:
    """Chain per-document stages lazily; every rejection is counted as ``stage/reason``.

    ``observe(doc, rejecting stage name or None)`` sees each document as it leaves: the kept document, or
    the last version of a rejected one (bias statistics)."""
    for doc in docs:
        current: Document | str = doc
        for stage in stages:
            result = stage.process(current, stats)
            if isinstance(result, str):
                stats.reject(stage.name, result)
                if observe is not None:
                    observe(current, stage.name)
                break
            current = result
        else:
            if observe is not None:
                observe(current, None)
            yield current
