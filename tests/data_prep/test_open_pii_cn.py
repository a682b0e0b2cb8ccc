"""Chinese PII patterns: valid identifiers found inside unspaced text, look-alike digit runs left alone."""

from __future__ import annotations

import pytest

from data_prep.stages.filters.pii_cn import (
    CN_BANK_CARD,
    CN_ID,
    CN_LANDLINE,
    CN_MOBILE,
    bank_card_valid,
    id_number_valid,
)


def found(pattern, check, text):
    return [m.group() for m in pattern.finditer(text) if check is None or check(m.group())]


def test_id_number_needs_a_real_date_and_the_check_character():
    assert found(CN_ID, id_number_valid, "身份证号11010519491231002X，请核对。") == ["11010519491231002X"]
    assert found(CN_ID, id_number_valid, "身份证号110105194912310021，请核对。") == []  # wrong check char
    assert found(CN_ID, id_number_valid, "编号110105194902300024。") == []  # 30 February
    assert found(CN_ID, id_number_valid, "订单1101051949123100211234") == []  # inside a longer run


@pytest.mark.parametrize("text,expected", [
    ("电话13812345678。", ["13812345678"]),
    ("手机：+86 138-1234-5678，", ["+86 138-1234-5678"]),
    ("时间戳1686812345678", []),
    ("编号12812345678", []),
])
def test_mobile(text, expected):
    assert found(CN_MOBILE, None, text) == expected


def test_bank_card_luhn_and_landline_separator():
    assert found(CN_BANK_CARD, bank_card_valid, "卡号6222021234567890125，") == []  # Luhn fails
    good = "6222021234567890128"
    assert bank_card_valid(good)
    assert found(CN_BANK_CARD, bank_card_valid, f"卡号{good}，") == [good]
    assert found(CN_LANDLINE, None, "请拨打010-62345678或（0755）8765 4321。") == ["010-62345678", "（0755）8765 4321"]
    assert found(CN_LANDLINE, None, "数量01062345678件") == []


def test_planted_benchmark_precision_and_recall_per_type():
    """bench/pii_planted.py on a small seed: every type finds its planted identifiers and leaves the
    look-alikes (wrong check digits, order numbers, timestamps, dates, ISBNs, ...) alone."""
    from bench.pii_planted import benchmark_config, build, evaluate
    from data_prep.stages.filters.pii import PiiScrubber

    cfg = benchmark_config()
    scrubber = PiiScrubber(cfg)
    result = evaluate(build(60, seed=1), lambda text: scrubber.scrub(text)[0], dict(cfg.placeholders))
    planted = {t: m for t, m in result.items() if m["tp"] + m["fn"]}
    assert set(planted) >= {"cn_id", "cn_bank_card", "cn_mobile", "cn_landline", "email", "ip", "credit_card", "phone"}
    for kind, m in planted.items():
        assert m["recall"] >= 0.97 and m["precision"] >= 0.97, (kind, m)
