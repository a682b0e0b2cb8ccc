"""Offline language id (py3langid) and the user-supplied URL / word blocklists."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from data_prep.document import Document, Stats
from data_prep.stages.filters.blocklist import BlocklistFilter
from data_prep.stages.filters.config import BlocklistConfig
from data_prep.stages.filters.langid import LangIdFilter
from openpretrain.errors import ConfigError, UserError
from tests.data_prep.configs import stage_config
from tests.data_prep.filter_texts import PROSE, pipeline_config

GERMAN = ("Der Ausschuss hat beschlossen, dass die neue Bibliothek im nächsten Frühjahr eröffnet wird, "
          "nachdem die Renovierung des alten Gebäudes abgeschlossen ist.")
FRENCH = ("Le comité a décidé que la nouvelle bibliothèque ouvrirait au printemps prochain, après la "
          "rénovation de l'ancien bâtiment.")


def doc(text: str, url: str | None = None) -> Document:
    return Document(id="d", text=text, source="s", license="l", url=url)


def test_langid_keeps_listed_languages_and_records_them() -> None:
    cfg = pipeline_config("web").lang_id
    flt = LangIdFilter(cfg)
    stats = Stats()
    kept = flt.process(doc(PROSE), stats)
    assert kept.meta["language"] == "en" and kept.meta["language_score"] >= cfg.min_score
    assert flt.process(doc(GERMAN), stats) == "language"
    assert stats.counters == {"lang/en": 1, "lang/de": 1}
    multi = LangIdFilter(replace(cfg, keep=["de", "fr"]))
    assert multi.process(doc(GERMAN), Stats()).meta["language"] == "de"
    assert multi.process(doc(FRENCH), Stats()).meta["language"] == "fr"
    assert LangIdFilter(replace(cfg, keep=[])).process(doc(GERMAN), Stats()).meta["language"] == "de"


def test_langid_score_threshold() -> None:
    cfg = replace(pipeline_config("web").lang_id, keep=[])
    assert LangIdFilter(replace(cfg, min_score=0.99)).process(doc("ok 12"), Stats()) == "low_score"
    assert LangIdFilter(replace(cfg, min_score=0.0)).process(doc("ok 12"), Stats()) != "low_score"


def test_langid_rejects_unknown_codes() -> None:
    with pytest.raises(ConfigError, match="pipeline.lang_id.keep"):
        LangIdFilter(replace(pipeline_config("web").lang_id, keep=["english"]))


@pytest.fixture()
def lists(tmp_path: Path) -> BlocklistConfig:
    urls = tmp_path / "urls.txt"
    urls.write_text("# blocked sites\nbad.example\nnews.example.org/ads/\n\n", encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("scamword\nfree money  now\n", encoding="utf-8")
    return stage_config("blocklist", enabled=True, url_blocklist=str(urls), word_list=str(words))


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://bad.example/page", True),
        ("http://www.bad.example", True),
        ("https://shop.bad.example/x?y=1", True),
        ("https://notbad.example/page", False),
        ("https://news.example.org/ads/banner", True),
        ("https://news.example.org/sport/", False),
        (None, False),
    ],
)
def test_url_blocklist(lists: BlocklistConfig, url: str | None, blocked: bool) -> None:
    assert BlocklistFilter(lists).url_blocked(url) is blocked


def test_word_blocklist_thresholds(lists: BlocklistConfig) -> None:
    clean = doc(PROSE)
    one = doc(PROSE + " Beware of the SCAMWORD.")
    phrase = doc(PROSE + " Get free\nmoney now!")
    stats = Stats()
    assert BlocklistFilter(lists).process(clean, stats) is clean
    assert BlocklistFilter(lists).process(one, stats) == "words"
    assert BlocklistFilter(lists).process(phrase, stats) == "words"
    assert stats.counters["blocklist/word_hits"] == 2
    assert BlocklistFilter(replace(lists, max_word_hits=1)).process(one, Stats()) is one
    assert BlocklistFilter(replace(lists, max_word_hits=5, max_word_ratio=0.001)).process(one, Stats()) == "words"
    assert BlocklistFilter(lists).process(doc(PROSE + " scamwords"), Stats()) != "words"  # whole words only
    assert BlocklistFilter(lists).process(doc(PROSE, url="https://bad.example/"), Stats()) == "url"


def test_missing_list_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="url_blocklist"):
        BlocklistFilter(stage_config("blocklist", enabled=True, url_blocklist=str(tmp_path / "nope.txt")))
