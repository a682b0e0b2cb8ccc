"""FIM transform: sentinel layout, PSM/SPM proportions, determinism per (seed, sample id)."""

from __future__ import annotations

import numpy as np
import pytest

from train.objectives.fim import FimTokens, fim_row, piece_bounds
from train.objectives.seeding import sample_rng

EOS = 0
IDS = FimTokens(prefix=1, suffix=2, middle=3, end=4)


def _row(doc_lengths: list[int], row_len: int, first_id: int = 10) -> tuple[np.ndarray, list[int]]:
    """Documents of distinct ascending ids, each closed by EOS, cut to ``row_len``."""
    parts, starts, pos, nxt = [], [], 0, first_id
    for n in doc_lengths:
        starts.append(pos)
        parts.append(np.arange(nxt, nxt + n))
        parts.append(np.array([EOS]))
        nxt, pos = nxt + n, pos + n + 1
    return np.concatenate(parts)[:row_len].astype(np.int64), [s for s in starts if s < row_len]


def _decode_piece(piece: np.ndarray, mode: str) -> tuple[list[int], list[int], list[int]]:
    """Undo one rearranged piece -> (prefix, part after <MID>, suffix). With an empty prefix PSM and SPM
    are the same tokens, so the layout alone cannot tell them apart: the caller names the mode."""
    assert piece[0] == IDS.prefix and piece[-1] == IDS.end
    body = list(piece[1:-1])
    if mode == "spm":  # <PRE><SUF> suffix <MID> prefix middle
        assert body[0] == IDS.suffix
        mid = body.index(IDS.middle)
        return [], body[mid + 1:], body[1:mid]
    suf, mid = body.index(IDS.suffix), body.index(IDS.middle)
    return body[:suf], body[mid + 1:], body[suf + 1:mid]


def test_layout_psm_and_spm_restore_the_document():
    row, starts = _row([30, 20, 25], row_len=200)
    seen = set()
    for sample in range(40):
        out, new_starts, pieces = fim_row(row, starts, sample_rng(7, "fim", f"s{sample}"), 1.0, 0.5, IDS, EOS)
        assert len(out) == len(row)
        for k, piece in enumerate(pieces):
            original = row[piece.start:piece.start + piece.length]
            begin = new_starts[k]
            if begin + piece.length + 4 >= len(out):
                assert k == len(pieces) - 1  # only the last piece is cut by the row length
                continue
            segment = out[begin:begin + piece.length + 4]
            mode = piece.mode
            prefix, middle, suffix = _decode_piece(segment, mode)
            seen.add(mode)
            lo, hi = piece.cut
            assert suffix == list(original[hi:])
            if mode == "psm":
                assert prefix == list(original[:lo]) and middle == list(original[lo:hi])
            else:  # SPM: after <MID> come prefix and middle, in document order
                assert middle == list(original[:hi])
            assert out[begin + piece.length + 4] == EOS  # the document's EOS stays after <END>
    assert seen == {"psm", "spm"}


def test_proportions_over_many_samples():
    row, starts = _row([12] * 20, row_len=257)
    counts = {"psm": 0, "spm": 0, "none": 0}
    for sample in range(400):
        _, _, pieces = fim_row(row, starts, sample_rng(1, "fim", f"id{sample}"), 0.5, 0.25, IDS, EOS)
        for piece in pieces:
            counts[piece.mode] += 1
    total = sum(counts.values())
    transformed = counts["psm"] + counts["spm"]
    assert transformed / total == pytest.approx(0.5, abs=0.03)
    assert counts["spm"] / transformed == pytest.approx(0.25, abs=0.03)


def test_cut_points_are_uniform_and_cover_empty_parts():
    row, starts = _row([50], row_len=51)
    middles, empty_middle = [], 0
    for sample in range(2000):
        _, _, (piece,) = fim_row(row, starts, sample_rng(3, "fim", str(sample)), 1.0, 0.0, IDS, EOS)
        lo, hi = piece.cut
        assert 0 <= lo <= hi <= 50
        middles.append(hi - lo)
        empty_middle += lo == hi
    # Two uniform cuts on [0, n]: E|a - b| = n/3 (+ O(1) for the discrete grid).
    assert np.mean(middles) == pytest.approx(50 / 3, rel=0.08)
    assert empty_middle > 0


def test_deterministic_per_seed_and_sample_id():
    row, starts = _row([40, 40], row_len=82)
    a = fim_row(row, starts, sample_rng(5, "fim", "000001_000003"), 0.5, 0.5, IDS, EOS)[0]
    b = fim_row(row, starts, sample_rng(5, "fim", "000001_000003"), 0.5, 0.5, IDS, EOS)[0]
    others = [fim_row(row, starts, sample_rng(5, "fim", f"000001_{i:06d}"), 0.5, 0.5, IDS, EOS)[0] for i in range(8)]
    other_seed = fim_row(row, starts, sample_rng(6, "fim", "000001_000003"), 0.5, 0.5, IDS, EOS)[0]
    assert np.array_equal(a, b)
    assert any(not np.array_equal(a, o) for o in others)
    assert not np.array_equal(a, other_seed)


def test_rate_zero_is_identity_and_unclosed_pieces_are_handled():
    row, starts = _row([10, 40], row_len=30)  # second document is cut off: no closing EOS in the row
    out, new_starts, _ = fim_row(row, starts, sample_rng(0, "fim", "x"), 0.0, 0.5, IDS, EOS)
    assert np.array_equal(out, row) and new_starts == starts
    out, _, pieces = fim_row(row, starts, sample_rng(0, "fim", "x"), 1.0, 0.0, IDS, EOS)
    assert pieces[1].length == 30 - 11 and len(out) == 30
    assert piece_bounds(30, [0, 11]) == [(0, 11), (11, 30)]
