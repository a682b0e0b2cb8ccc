"""Fill-in-the-middle (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in the Middle").

Applied per document piece of a packed row, in the loader: with probability ``rate`` a piece's tokens are
cut at two uniform points into prefix / middle / suffix and rearranged

    PSM:  <PRE> prefix <SUF> suffix <MID> middle <END> [EOS]
    SPM:  <PRE> <SUF> suffix <MID> prefix middle <END> [EOS]     (the joint-training SPM variant)

with probability ``spm_rate`` of SPM. The piece's closing EOS (when the document ends inside the row)
stays last. The rearranged row is cut back to the stored row length, so a row loses at most 4 tokens
per transformed piece from its end; the loss then stays plain next-token cross-entropy over the row.
Everything is a pure function of (row, document starts, random stream): see ``train.objectives.seeding``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FimTokens:
    prefix: int
    suffix: int
    middle: int
    end: int


@dataclass(frozen=True)
class FimPiece:
    """What happened to one document piece (returned for statistics and tests)."""

    start: int  # where the piece began in the original row
    length: int  # its tokens, closing EOS excluded
    mode: str  # "psm", "spm" or "none"
    cut: tuple[int, int] = (0, 0)  # middle = tokens[cut[0]:cut[1]] of the piece


def piece_bounds(row_len: int, doc_starts: list[int]) -> list[tuple[int, int]]:
    starts = sorted({s for s in doc_starts if 0 <= s < row_len} | {0})
    return list(zip(starts, starts[1:] + [row_len]))


def rearrange(tokens: np.ndarray, cut: tuple[int, int], spm: bool, ids: FimTokens) -> np.ndarray:
    """One document's tokens (no EOS) in FIM order, sentinels included."""
    lo, hi = cut
    prefix, middle, suffix = tokens[:lo], tokens[lo:hi], tokens[hi:]
    sentinel = np.array
    if spm:
        parts = [sentinel([ids.prefix, ids.suffix]), suffix, sentinel([ids.middle]), prefix, middle]
    else:
        parts = [sentinel([ids.prefix]), prefix, sentinel([ids.suffix]), suffix, sentinel([ids.middle]), middle]
    parts.append(sentinel([ids.end]))
    return np.concatenate([p.astype(tokens.dtype, copy=False) for p in parts])


def fim_row(row: np.ndarray, doc_starts: list[int], rng: np.random.Generator, rate: float, spm_rate: float,
            ids: FimTokens, eos_id: int) -> tuple[np.ndarray, list[int], list[FimPiece]]:
    """The FIM-transformed row (same length), its new document starts, and what was done per piece."""
    out, new_starts, pieces = [], [], []
    length = 0
    for start, end in piece_bounds(len(row), doc_starts):
        piece = row[start:end]
        closed = len(piece) > 0 and piece[-1] == eos_id
        body = piece[:-1] if closed else piece
        # Draw the same number of values for every piece, so one piece's fate never shifts the next one's.
        apply, spm, cuts = rng.random() < rate, rng.random() < spm_rate, np.sort(rng.integers(0, len(body) + 1, 2))
        new_starts.append(length)
        if apply and len(body) > 0:
            cut = (int(cuts[0]), int(cuts[1]))
            body = rearrange(body, cut, bool(spm), ids)
            pieces.append(FimPiece(start, end - start - int(closed), "spm" if spm else "psm", cut))
        else:
            pieces.append(FimPiece(start, end - start - int(closed), "none"))
        out.append(body)
        if closed:
            out.append(piece[-1:])
        length += len(body) + int(closed)
    transformed = np.concatenate(out)[: len(row)]
    return transformed, [s for s in new_starts if s < len(row)], pieces


def psm_prompt(prefix: list[int], suffix: list[int], ids: FimTokens) -> list[int]:
    """The infilling prompt: the model continues with the middle, then ``<END>``."""
    return [ids.prefix, *prefix, ids.suffix, *suffix, ids.middle]
