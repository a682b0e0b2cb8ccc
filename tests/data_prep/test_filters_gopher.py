"""Gopher quality and repetition rules: each threshold passed and broken by a crafted text."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from data_prep.document import Document, Stats
from data_prep.stages.filters.gopher_quality import GopherQualityFilter
from data_prep.stages.filters.gopher_repetition import GopherRepetitionFilter, _NGramIndex
from tests.data_prep.filter_texts import PROSE, PROSE_LINES, pipeline_config

CFG = pipeline_config("web")


def quality(text: str, **overrides) -> str | None:
    return GopherQualityFilter(replace(CFG.gopher_quality, **overrides)).check(text)


def repetition(text: str, **overrides) -> str | None:
    return GopherRepetitionFilter(replace(CFG.gopher_repetition, **overrides)).check(text)


def test_prose_passes_both() -> None:
    assert quality(PROSE) is None
    assert repetition(PROSE) is None


def test_process_returns_doc_or_reason() -> None:
    flt = GopherQualityFilter(CFG.gopher_quality)
    doc = Document(id="a", text=PROSE, source="s", license="l")
    assert flt.process(doc, Stats()) is doc
    assert flt.process(replace(doc, text="Too short."), Stats()) == "too_few_words"


@pytest.mark.parametrize(
    ("text", "overrides", "reason"),
    [
        ("The cat and the dog sat with me.", {}, "too_few_words"),
        (PROSE, {"max_words": 60}, "too_many_words"),
        ("I am a cat and so is he; we go to it as we do if it is so and be the one. " * 5, {},
         "short_mean_word_length"),
        ("The " + " ".join(["extraordinarily", "incomprehensible", "characteristically"] * 20)
         + " of the and that.", {}, "long_mean_word_length"),
        (PROSE + "\n" + " ".join(f"#tag{i}" for i in range(25)), {}, "hash_ratio"),
        (PROSE + "\n" + " ".join(f"wait{i}..." for i in range(25)), {}, "ellipsis_ratio"),
        ("\n".join("- " + line for line in PROSE_LINES), {}, "bullet_lines"),
        ("\n".join(line[:-1] + "..." if i % 2 else line for i, line in enumerate(PROSE_LINES)), {},
         "ellipsis_lines"),
        (PROSE + "\n" + " ".join(str(1000 + i) for i in range(60)), {}, "alpha_words"),
        ("Cats sleep quietly while birds sing loudly outside. " * 2 + " ".join(PROSE.split()[:60])
         .replace("the ", "").replace("The ", "").replace(" of ", " ").replace(" and ", " ")
         .replace(" that ", " ").replace(" with ", " ").replace(" to ", " ").replace(" have ", " "), {},
         "stop_words"),
    ],
)
def test_quality_rules(text: str, overrides: dict, reason: str) -> None:
    assert quality(text, **overrides) == reason


def test_quality_boundaries_are_inclusive() -> None:
    # 10 hashes in a text of exactly 100 tokens: ratio 0.1 is allowed, 11 is not
    words = PROSE.split()
    base = " ".join(words[:90])
    assert quality(base + " " + " ".join(["#"] * 10)) is None
    assert quality(base + " " + " ".join(["#"] * 11)) == "hash_ratio"


def test_stop_words_are_case_sensitive_like_the_reference() -> None:
    text = PROSE.replace("The ", "A ").replace("the ", "cow ").replace("and ", "cow ").replace("to ", "cow ").replace("of ", "cow ")
    text = text.replace("that ", "cow ").replace("with ", "cow ").replace("have ", "cow ")
    assert quality(text + " the", min_stop_words=1) is None
    assert quality(text + " The THE", min_stop_words=1) == "stop_words"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("\n\n".join([PROSE_LINES[0], PROSE_LINES[1], PROSE_LINES[0], PROSE_LINES[0]]), "dup_para_frac"),
        ("\n\n".join([PROSE, PROSE_LINES[1], PROSE_LINES[2], PROSE]), "dup_para_char_frac"),
        ("\n".join([PROSE_LINES[0], PROSE_LINES[1], PROSE_LINES[0], PROSE_LINES[0]]), "dup_line_frac"),
        ("\n".join(PROSE_LINES + [" ".join(PROSE_LINES[:3])] * 2 + PROSE_LINES[3:5]), "dup_line_char_frac"),
        (" ".join(f"big cat number{i}" for i in range(40)), "top_2_gram"),
        (PROSE + " " + " ".join(PROSE_LINES[:3]), "dup_5_gram"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 25 else "",
)
def test_repetition_rules(text: str, reason: str) -> None:
    assert repetition(text) == reason


def test_top_ngram_sizes_are_checked_in_order() -> None:
    three = " ".join(f"big red cat n{i}" for i in range(40))
    four = " ".join(f"a big red cat n{i}" for i in range(40))
    assert repetition(three) == "top_2_gram"
    assert repetition(three, top_ngram_max_char_frac={2: 1.0, 3: 0.18}) == "top_3_gram"
    assert repetition(four, top_ngram_max_char_frac={2: 1.0, 3: 1.0, 4: 0.16}) == "top_4_gram"
    assert repetition(four, top_ngram_max_char_frac={2: 1.0, 3: 1.0, 4: 1.0}) is None


def test_repetition_thresholds_are_configurable() -> None:
    text = PROSE + " " + " ".join(PROSE_LINES[:3])
    assert repetition(text, dup_ngram_max_char_frac={5: 0.9, 6: 0.9}) is None
    assert repetition(text, top_ngram_max_char_frac={6: 0.01}, dup_ngram_max_char_frac={}) == "top_6_gram"


def _naive_top(words: list[str], n: int) -> int:
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def _naive_dup(words: list[str], n: int) -> int:
    seen, total, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i:i + n])
        if gram in seen:
            total += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


def test_vectorised_ngrams_match_the_plain_definition() -> None:
    rng = random.Random(7)
    vocab = ["a", "bb", "ccc", "dddd", "the", "river", "x"]
    for trial in range(200):
        words = [rng.choice(vocab[: 2 + trial % 6]) for _ in range(rng.randint(0, 60))]
        index = _NGramIndex(words)
        for n in range(2, 11):
            while index.n < n:
                index.advance()
            assert index.top_weight() == _naive_top(words, n), (words, n)
            assert index.duplicated_chars() == _naive_dup(words, n), (words, n)
