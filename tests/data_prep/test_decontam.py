"""Decontamination against evaluation files: n-gram overlap drops or flags documents."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest

from data_prep.document import Document, Stats
from data_prep.stages.decontam import Decontaminator
from data_prep.stages.filters.config import DecontamConfig
from openpretrain.errors import UserError
from tests.data_prep.configs import stage_config
from tests.data_prep.filter_texts import PROSE

QUESTION = ("Which gas do plants absorb from the air during photosynthesis in order to make sugar and "
            "release oxygen back into the atmosphere")


@pytest.fixture()
def evals(tmp_path: Path) -> DecontamConfig:
    (tmp_path / "qa.jsonl.gz").write_bytes(gzip.compress(
        (json.dumps({"question": QUESTION, "choices": ["carbon dioxide", "helium"], "id": 3}) + "\n").encode()))
    (tmp_path / "short.txt").write_text("Name the capital city of the small alpine country please\nhi\n",
                                        encoding="utf-8")
    return stage_config("decontam", enabled=True, eval_paths=[str(tmp_path / "*.jsonl.gz"), str(tmp_path / "short.txt")])


def doc(text: str) -> Document:
    return Document(id="d", text=text, source="s", license="l")


def test_overlap_is_found_through_case_and_punctuation(evals: DecontamConfig) -> None:
    dc = Decontaminator(evals)
    leaked = PROSE + "\nQuiz: which GAS do plants absorb from the air, during photosynthesis in order to make sugar?"
    assert dc.matches(PROSE) == 0
    assert dc.matches(leaked) == 3  # 15 words of the question -> three 13-word windows
    stats = Stats()
    assert dc.process(doc(leaked), stats) == "contaminated"
    assert stats.counters["decontam/contaminated_docs"] == 1
    assert dc.process(doc(PROSE), stats).text == PROSE


def test_short_eval_items_match_whole(evals: DecontamConfig) -> None:
    dc = Decontaminator(evals)
    assert dc.matches("Quiz time! Name the capital city of the small alpine country, please.") == 1
    assert dc.matches("hi there") == 0  # "hi" is shorter than min_words and is not indexed


def test_flag_mode_and_thresholds(evals: DecontamConfig) -> None:
    leaked = doc("Note: which gas do plants absorb from the air during photosynthesis in order to make sugar")
    flagged = Decontaminator(replace(evals, mode="flag")).process(leaked, Stats())
    assert flagged.meta["contaminated_ngrams"] == 3
    assert Decontaminator(replace(evals, min_matches=4)).process(leaked, Stats()) is leaked
    assert Decontaminator(replace(evals, ngram=20)).matches(leaked.text) == 0


def test_missing_or_bad_eval_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no evaluation file"):
        Decontaminator(stage_config("decontam", enabled=True, eval_paths=[str(tmp_path / "none*.jsonl")]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(UserError, match="bad.jsonl:1 is not JSON"):
        Decontaminator(stage_config("decontam", enabled=True, eval_paths=[str(bad)]))
