"""C4 line/document rules and FineWeb's rules, each passed and broken by a crafted text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from data_prep.document import Document, Stats
from data_prep.stages.filters.c4 import C4Filter
from data_prep.stages.filters.fineweb import FineWebFilter
from tests.data_prep.filter_texts import PROSE, PROSE_LINES, pipeline_config

CFG = pipeline_config("web")


def c4(text: str, **overrides):
    return C4Filter(replace(CFG.c4, **overrides)).check(text)


def fineweb(text: str, **overrides) -> str | None:
    return FineWebFilter(replace(CFG.fineweb, **overrides)).check(text)


def test_c4_keeps_clean_prose_unchanged() -> None:
    assert c4(PROSE) == (None, PROSE, 0)


def test_c4_drops_boilerplate_lines_and_citations() -> None:
    text = "\n".join([
        "Menu",  # fewer than 3 words
        PROSE_LINES[0] + "[1]",
        "Please enable JavaScript to view the comments.",
        "This site uses cookies to improve your experience.",
        "Read our Privacy Policy for details.",
        "x" * 1001 + " is a very long word indeed.",
        *PROSE_LINES[1:],
    ])
    reason, cleaned, dropped = c4(text)
    assert reason is None
    assert cleaned == PROSE
    assert dropped == 5


def test_c4_document_rules() -> None:
    assert c4(PROSE + "\nLorem ipsum dolor sit amet, consectetur.")[0] == "lorem_ipsum"
    assert c4(PROSE + "\nfunction init() { return the menu; }")[0] == "curly_bracket"
    assert c4("\n".join(PROSE_LINES[:4]))[0] == "too_few_sentences"
    assert c4("\n".join(PROSE_LINES[:5]))[0] is None  # exactly min_sentences
    assert c4("\n".join(PROSE_LINES[:4]), min_sentences=4)[0] is None
    # a line dropped before the document rules cannot reject the document
    assert c4(PROSE + "\nlorem ipsum")[0] is None


def test_c4_rules_can_be_switched_off() -> None:
    text = PROSE + "\nLorem ipsum dolor sit amet { with braces }."
    assert c4(text)[0] == "lorem_ipsum"
    assert c4(text, drop_lorem_ipsum=False)[0] == "curly_bracket"
    assert c4(text, drop_lorem_ipsum=False, drop_curly_bracket=False)[0] is None


def test_c4_terminal_punctuation_is_optional() -> None:
    text = PROSE + "\nA heading without a full stop"
    assert c4(text)[1] == text
    reason, cleaned, dropped = c4(text, filter_no_terminal_punct=True)
    assert (reason, cleaned, dropped) == (None, PROSE, 1)
    assert c4(PROSE + "\nTrailing off into nothing...", filter_no_terminal_punct=True)[1] == PROSE


def test_c4_stage_rewrites_and_counts() -> None:
    stats = Stats()
    doc = Document(id="d", text=PROSE + "\nShare", source="s", license="l")
    out = C4Filter(CFG.c4).process(doc, stats)
    assert isinstance(out, Document) and out.text == PROSE and out.id == "d"
    assert stats.counters["c4/lines_dropped"] == 1
    assert C4Filter(CFG.c4).process(replace(doc, text=PROSE), Stats()).text is PROSE


def test_fineweb_passes_prose() -> None:
    assert fineweb(PROSE) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   \n\n  ", "empty"),
        ("\n".join(line.rstrip(".") for line in PROSE_LINES), "terminal_punct_lines"),
        (PROSE + "\n" + "\n".join(f"Short line number {i}." for i in range(20)), "short_lines"),
        (PROSE + "\n" + PROSE_LINES[0], "dup_line_chars"),
        ("\n".join(f"Incomprehensibilities{i:04d}characteristically." for i in range(40)), "newline_ratio"),
    ],
    ids=["empty", "terminal_punct_lines", "short_lines", "dup_line_chars", "newline_ratio"],
)
def test_fineweb_rules(text: str, reason: str) -> None:
    assert fineweb(text) == reason


def test_fineweb_thresholds() -> None:
    lines = [line.rstrip(".") for line in PROSE_LINES]
    one_in_eight = "\n".join(lines[:-1] + [PROSE_LINES[-1]])  # 12.5% end in punctuation
    assert fineweb(one_in_eight) is None
    assert fineweb(one_in_eight, min_terminal_punct_lines=0.13) == "terminal_punct_lines"
    assert fineweb(PROSE + "\n" + PROSE_LINES[0], max_dup_line_char_frac=0.2) is None
