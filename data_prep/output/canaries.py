"""Planted canaries (Carlini et al. 2019, "The Secret Sharer"): random secrets inserted into training data.

``canaries.count=K canaries.repeats=[1,10,100]`` makes K canaries per repeat count; a canary with repeat
count r appears r times in the training data. Each has a random prefix (so no two canaries share a
context) and a random secret; the memorization probe later asks whether greedy decoding completes the
secret from the prefix, per repeat count. Everything is drawn from one seeded generator, so the same
config plants the same canaries.

The canary documents are ordinary ``Document``s with ``meta["canary"]`` set; ``synthetic`` stays false
because no model wrote them. ``manifest_records`` is what the manifest stores (prefix, secret, repeats),
and ``interleave`` spreads the copies evenly through a document stream, deterministically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from data_prep.document import Document
from openpretrain.errors import UserError

SOURCE = "canaries"
LICENSE = "CC0-1.0"  # the canaries are random strings made here
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


@dataclass(frozen=True)
class Canary:
    id: str
    prefix: str
    secret: str
    repeats: int

    @property
    def text(self) -> str:
        return f"{self.prefix} {self.secret}"


def _random_word(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(_LETTERS, size=length))


def make_canaries(count: int, repeats: Sequence[int], seed: int, secret_digits: int = 12) -> list[Canary]:
    """``count`` canaries for each repeat count in ``repeats`` (in that order), seeded."""
    if count < 1:
        raise UserError(f"canaries.count: must be >= 1, got {count}")
    if not repeats or any(r < 1 for r in repeats) or len(set(repeats)) != len(repeats):
        raise UserError(f"canaries.repeats: must be distinct counts >= 1, got {list(repeats)}")
    if secret_digits < 4:
        raise UserError(f"canaries.secret_digits: must be >= 4, got {secret_digits}")
    rng = np.random.default_rng(seed)
    canaries = []
    for r in repeats:
        for k in range(count):
            # A digit secret has no linguistic prior: only memorisation can complete it.
            prefix = f"the {_random_word(rng, 6)} {_random_word(rng, 7)} access code is"
            secret = " ".join("".join(map(str, rng.integers(0, 10, size=4))) for _ in range(secret_digits // 4))
            canaries.append(Canary(f"r{r}-{k}", prefix, secret, int(r)))
    return canaries


def canary_documents(canaries: Iterable[Canary]) -> list[Document]:
    """Every copy of every canary as a Document, ids stable (``canaries/<id>/<copy>``)."""
    return [
        Document(id=f"{SOURCE}/{c.id}/{copy}", text=c.text, source=SOURCE, license=LICENSE,
                 meta={"canary": {"id": c.id, "repeats": c.repeats, "copy": copy}})
        for c in canaries for copy in range(c.repeats)
    ]


def manifest_records(canaries: Iterable[Canary]) -> list[dict]:
    """What the manifest stores: one record per canary (id, prefix, secret, repeats)."""
    return [asdict(c) for c in canaries]


def shuffled(documents: Sequence[Document], seed: int) -> list[Document]:
    """The canary copies in a seeded order, so the copies of one canary do not sit next to each other."""
    order = np.random.default_rng(seed).permutation(len(documents))
    return [documents[i] for i in order]


def interleave(docs: Iterable[Document], canary_docs: Sequence[Document], every: int) -> Iterator[Document]:
    """Yield ``docs`` with one canary document after every ``every`` real ones; canaries left over when
    ``docs`` runs out follow at the end, so none is ever lost."""
    if every < 1:
        raise UserError(f"canaries.every: must be >= 1, got {every}")
    pending = iter(canary_docs)
    for i, doc in enumerate(docs, start=1):
        yield doc
        if i % every == 0:
            canary = next(pending, None)
            if canary is not None:
                yield canary
    yield from pending
