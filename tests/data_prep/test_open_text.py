"""Plain text and long documents: txt modes, splitting at paragraph / line boundaries, accounting."""

from __future__ import annotations

from data_prep.document import Document, Stats
from data_prep.sources.local import FieldSpec, ReadOptions, iter_local_file
from data_prep.stages.split import split_long_documents, split_text

FIELDS = FieldSpec("books", "text", None, None)


def test_txt_modes(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("Chapter one.\nIt was a dark night.\n\n\nChapter two.\n  \nThe end.\n", encoding="utf-8")
    whole = list(iter_local_file(str(path), FIELDS, ReadOptions(txt_mode="file")))
    paragraphs = list(iter_local_file(str(path), FIELDS, ReadOptions(txt_mode="paragraphs")))
    lines = list(iter_local_file(str(path), FIELDS, ReadOptions(txt_mode="lines")))
    assert len(whole) == 1
    assert [r.text for r in paragraphs] == ["Chapter one.\nIt was a dark night.", "Chapter two.", "The end.\n"]
    assert [r.text for r in lines] == ["Chapter one.", "It was a dark night.", "Chapter two.", "The end."]
    assert len({r.id for r in lines}) == 4 and lines[0].id.endswith("#l0")


def test_split_text_keeps_every_character_and_respects_the_limit():
    paragraphs = [f"Paragraph {i}. " + "word " * (i % 7 * 20) for i in range(200)]
    text = "\n\n".join(paragraphs)
    parts = split_text(text, 1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert all(p.startswith("Paragraph") for p in parts)  # cut at paragraph starts only


def test_long_paragraph_is_cut_at_lines_and_a_giant_line_stays_whole():
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(40)) + "\n\n" + "y" * 500
    parts = split_text(text, 200)
    assert parts[-1] == "y" * 500
    assert all(len(p) <= 200 for p in parts[:-1]) and all(p.startswith("line") for p in parts[:-1])


def test_split_long_documents_accounting():
    stats = Stats(docs_in=2)
    docs = [Document("a", "short text", "s", "l"), Document("b", "\n\n".join(["p" * 90] * 10), "s", "l")]
    out = list(split_long_documents(docs, 200, stats))
    assert [d.id for d in out] == ["a", "b@0", "b@1", "b@2", "b@3", "b@4"]
    assert stats.docs_in == 2 + 4 and stats.counters["split/parts"] == 5 and stats.counters["split/docs"] == 1
    assert out[1].meta == {"part": 0, "parts": 5}


def test_a_single_giant_line_is_left_whole_for_clean_to_reject():
    stats = Stats(docs_in=1)
    out = list(split_long_documents([Document("g", "x" * 500, "s", "l")], 100, stats))
    assert [d.id for d in out] == ["g"] and stats.docs_in == 1 and not stats.counters
