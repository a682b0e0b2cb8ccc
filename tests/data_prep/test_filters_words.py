"""The word splitter follows the rule-based English tokenisation the published thresholds were tuned on."""

from __future__ import annotations

import pytest

from data_prep.stages.filters.words import WordSplitter, count_sentences, tokenize_piece


@pytest.mark.parametrize(
    ("piece", "tokens"),
    [
        ("hello", ["hello"]),
        ("world,", ["world", ","]),
        ('"quoted"', ['"', "quoted", '"']),
        ("(a)", ["(", "a", ")"]),
        ("don't", ["do", "n't"]),
        ("I'm", ["I", "'m"]),
        ("it's", ["it", "'s"]),
        ("cannot", ["can", "not"]),
        ("e.g.", ["e.g."]),
        ("Mr.", ["Mr."]),
        ("etc.", ["etc", "."]),
        ("U.S.A.", ["U.S.A."]),
        ("end.Next", ["end", ".", "Next"]),
        ("well-known", ["well", "-", "known"]),
        ("3-4", ["3", "-", "4"]),
        ("1,000", ["1,000"]),
        ("3.14", ["3.14"]),
        ("5km", ["5", "km"]),
        ("$10", ["$", "10"]),
        ("hello...", ["hello", "..."]),
        ("wow!!!", ["wow", "!", "!", "!"]),
        ("https://example.com/a?b=1.", ["https://example.com/a?b=1", "."]),
        ("f(x):", ["f(x", "):"]),
        ("here", ["here"]),
        ("its", ["its"]),
    ],
)
def test_tokenize_piece(piece: str, tokens: list[str]) -> None:
    assert tokenize_piece(piece) == tokens


def test_splitter_splits_on_any_whitespace_and_caches() -> None:
    splitter = WordSplitter(max_cache=2)
    text = "Don't panic,\tplease.\n\nIt's fine!"
    assert splitter.words(text) == ["Do", "n't", "panic", ",", "please", ".", "It", "'s", "fine", "!"]
    assert splitter.words(text) == splitter.words(text)  # cache cleared at its bound, same answer


def test_count_sentences() -> None:
    split = WordSplitter().words
    assert count_sentences([]) == 0
    assert count_sentences(split("One sentence without an end")) == 1
    assert count_sentences(split('First one. "Second one!" Third? Yes.')) == 4
    assert count_sentences(split("Abbreviations e.g. this do not split.")) == 1
