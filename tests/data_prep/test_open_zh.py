"""pipeline=web_zh: Chinese prose kept, spam / repetition / bad words / other languages rejected by the
right rule, jieba words in every word-based stage, Chinese PII scrubbed with valid checksums only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from data_prep.document import Document, Stats
from data_prep.stages import build_stages
from data_prep.stages.base import run_stages, setup_stages
from data_prep.stages.bias import bias_table
from data_prep.stages.filters.badwords import BadWordsFilter
from data_prep.stages.filters.language import Language, get_segmenter
from data_prep.stages.filters.pii import PiiScrubber
from data_prep.stages.filters.script import ScriptFilter
from data_prep.stages.filters.textview import view
from openpretrain.errors import ConfigError
from tests.data_prep import zh_texts as zh
from tests.data_prep.configs import pipeline_config, stage_config


def decide(cfg, text: str) -> str:
    stages = setup_stages(build_stages(cfg))
    stats = Stats()
    kept = list(run_stages([Document("d", text, "s", "l")], stages, stats))
    return "kept" if kept else next(iter(stats.rejected))


@pytest.fixture(scope="module")
def web_zh():
    return pipeline_config("web_zh")


def test_jieba_words_reach_the_word_based_stages():
    words = get_segmenter("jieba")
    assert words("我们在北京大学的图书馆里读书。") == ["我们", "在", "北京大学", "的", "图书馆", "里", "读书", "。"]
    text = zh.PROSE[0]
    assert len(view(text, words).words) > 100 and len(view(text).words) < 20  # rules: a paragraph is one word
    assert Language("zh", "jieba").spaced("今天天气很好") == "今天天气 很 好"


@pytest.mark.parametrize("index", range(len(zh.PROSE)))
def test_web_zh_keeps_chinese_prose_and_web_drops_it(web_zh, index):
    assert decide(web_zh, zh.PROSE[index]) == "kept"
    assert decide(pipeline_config("web"), zh.PROSE[index]) == "lang_id/language"


@pytest.mark.parametrize("name,expected", [
    ("BAD_WORDS_PAGE", "bad_words/hit"), ("BENIGN_LOOKALIKES", "kept"), ("ZH_WITH_ENGLISH", "kept"),
    ("JAPANESE", "lang_id/language"), ("KOREAN", "lang_id/language"), ("ENGLISH", "lang_id/language"),
    ("TRADITIONAL", "script/too_short"),
])
def test_web_zh_decisions(web_zh, name, expected):
    assert decide(web_zh, getattr(zh, name)) == expected


@pytest.mark.parametrize("text,expected", [
    (zh.KEYWORD_SPAM, "gopher_repetition/top_2_gram"),
    (zh.REPEATED, "gopher_repetition/dup_line_frac"),
    (zh.PROSE[1] + "\n" + "手机 手机壳 手机膜 充电器 数据线 耳机 " * 30, "gopher_repetition/top_3_gram"),
    (zh.PROSE[2] + "\n" + "\n".join(["欢迎光临本店，全场商品八折优惠，欢迎选购！"] * 12), "gopher_repetition/dup_line_frac"),
])
def test_web_zh_quality_rules_catch_spam_on_their_own(web_zh, text, expected):
    """Language id already drops most spam (low score); without it the repetition rules still do."""
    assert decide(replace(web_zh, lang_id=replace(web_zh.lang_id, enabled=False)), text) == expected


def test_web_zh_rejects_a_page_of_short_lines_without_punctuation(web_zh):
    menu = "\n".join(["首页", "新闻中心", "产品展示", "联系我们"] * 3 + [zh.PROSE[0].split("\n")[0]])
    assert decide(replace(web_zh, lang_id=replace(web_zh.lang_id, enabled=False)), menu).startswith(
        ("gopher_quality/", "fineweb/", "gopher_repetition/", "script/"))


def test_chinese_pii_scrubbed_only_with_valid_checksums(web_zh):
    scrubber = PiiScrubber(web_zh.pii)
    text = ("张先生的身份证号是11010519491231002X，手机13912345678，"
            "银行卡6222021234567890128，办公室电话010-62345678。订单号110105194912310021不是身份证。")
    out, counts = scrubber.scrub(text)
    assert counts == {"cn_id": 1, "cn_mobile": 1, "cn_bank_card": 1, "cn_landline": 1}
    assert "<CN_ID>" in out and "<BANK_CARD>" in out and out.count("<PHONE>") == 2
    assert "110105194912310021" in out  # wrong check digit: left alone


def test_traditional_to_simplified_and_unknown_language_or_segmenter():
    stage = ScriptFilter(stage_config("script", enabled=True, min_chars=10, traditional_to_simplified="convert"))
    stage.setup()
    out = stage.process(Document("d", zh.TRADITIONAL, "s", "l"), Stats())
    assert "这是一篇用繁体字写的文章" in out.text and out.meta["converted_t2s"]
    with pytest.raises(ConfigError, match="pipeline.language.*'xx'"):
        build_stages(replace(pipeline_config("web_zh"), language="xx"))
    from data_prep.stages.filters.config import validate_filters

    with pytest.raises(ConfigError, match="pipeline.segmenter.*rules, jieba"):
        validate_filters(replace(pipeline_config("web_zh"), segmenter="icu"))


def test_bad_words_counts_terms_and_ratio_mode():
    cfg = stage_config("bad_words", enabled=True, languages=["en"], mode="ratio", max_ratio=0.05)
    stage = BadWordsFilter(cfg)
    stats = Stats()
    assert stage.process(Document("d", "what a load of bullshit " + "fine words " * 50, "s", "l"), stats).text
    assert stage.process(Document("d", "bullshit bullshit crap", "s", "l"), stats) == "ratio"
    assert stats.counters["bad_words/term/en/bullshit"] == 3 and "bullshit x2" in stage.reject_detail


def test_bias_counts_kept_and_rejected_mentions(web_zh):
    cfg = replace(web_zh, bias=replace(web_zh.bias, enabled=True))
    from data_prep.stages import bias_observer

    stats = Stats()
    stages = setup_stages(build_stages(cfg))
    docs = [Document("a", zh.PROSE[0], "s", "l"), Document("b", zh.BAD_WORDS_PAGE, "s", "l")]
    kept = list(run_stages(docs, stages, stats, bias_observer(cfg, stats)))
    assert len(kept) == 1
    table = bias_table(stats.counters)["zh"]
    assert table["male"]["kept"] >= 1 and table["male"]["rejected"] >= 1  # 他们 in both; 其他 never counts
    assert 0 < table["male"]["rejected_share"] < 1


def test_language_id_on_cjk_mixtures():
    from data_prep.stages.filters.langid import LangIdFilter

    lang_id = LangIdFilter(stage_config("lang_id", enabled=True, keep=["zh", "en", "ja", "ko"]))
    assert lang_id.classify(zh.ZH_WITH_ENGLISH)[0] == "zh" and lang_id.classify(zh.ZH_WITH_ENGLISH)[1] > 0.9
    assert lang_id.classify(zh.JAPANESE)[0] == "ja" and lang_id.classify(zh.KOREAN)[0] == "ko"
    quoting = zh.ENGLISH + " The sign above the door reads 图书馆 (library)."
    assert lang_id.classify(quoting)[0] == "en"
    half = "我们使用 Python 和 PyTorch 训练模型，the model is trained on many GPUs in parallel。"
    assert lang_id.classify(half)[1] < 0.692  # genuinely mixed (and short): below web_zh's threshold


def test_keep_both_adds_a_simplified_copy_that_is_accounted_for():
    from data_prep.stages.filters.script import simplified_copies

    stats = Stats(docs_in=2)
    docs = [Document("t", zh.TRADITIONAL, "s", "l"), Document("p", zh.PROSE[0], "s", "l")]
    out = list(simplified_copies(docs, stats))
    assert [d.id for d in out] == ["t", "t#t2s", "p"] and out[0].text == zh.TRADITIONAL
    assert "这是一篇用繁体字写的文章" in out[1].text and stats.docs_in == 3


def test_minhash_and_decontamination_use_chinese_words(tmp_path, web_zh):
    from data_prep.stages.decontam import Decontaminator
    from data_prep.stages.minhash import MinHasher, normalize

    zh_lang = Language("zh", "jieba")
    original = zh.PROSE[1]
    edited = original.replace("第二长河", "第二大河").replace("九个省区", "九个省份")
    hasher = MinHasher(stage_config("dedup", near=True))
    keys = [hasher.keys_of(normalize(zh_lang.spaced(t))) for t in (original, edited)]
    assert (keys[0] == keys[1]).any()  # near-duplicates collide in some band
    unsegmented = [hasher.keys_of(normalize(t)) for t in (original, edited)]
    assert not (unsegmented[0] == unsegmented[1]).any()  # without words: one "word" per sentence, no match

    evals = tmp_path / "eval.txt"
    evals.write_text(original.split("\n")[0] + "\n", encoding="utf-8")
    cfg = stage_config("decontam", enabled=True, eval_paths=[str(evals)])
    assert Decontaminator(cfg, zh_lang).matches(zh.PROSE[1]) > 0
    assert Decontaminator(cfg, zh_lang).matches(zh.PROSE[0]) == 0


def test_a_bad_route_setting_names_its_key():
    from data_prep.stages.route import route_configs

    cfg = pipeline_config("web_zh_en")
    cfg.routes["en"]["gopher_quality"]["min_words"] = -1
    with pytest.raises(ConfigError, match=r"pipeline.routes.en.gopher_quality.min_words"):
        route_configs(cfg)
