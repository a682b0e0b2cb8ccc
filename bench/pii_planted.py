"""A planted PII benchmark: documents with one real identifier (valid checksum) or one look-alike digit
string each, so precision and recall can be computed per type from the scrubbed text.

    python bench/pii_planted.py [--docs-per-kind 400] [--seed 0]

Look-alikes are what a Chinese or English web page is full of: identity numbers with a wrong check
character or an impossible birth date, random 18-digit runs, order numbers, millisecond timestamps,
dates, prices, ISBNs, postcodes, bank-card-shaped runs that fail Luhn. A scrubber that replaces one of
them is a false positive of the type whose placeholder appears.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.stages.filters.pii import PiiScrubber  # noqa: E402
from data_prep.stages.filters.pii_checks import luhn_valid  # noqa: E402

REGIONS = ("110101", "110105", "310104", "440305", "330106", "510107", "420111", "320102", "500103")
AREA_CODES = ("010", "021", "020", "022", "023", "0755", "0571", "025", "028", "0512")
MOBILE_PREFIXES = ("130", "135", "138", "139", "150", "158", "166", "177", "186", "189", "199")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
TEMPLATES = (
    "我的{label}是{item}，请妥善保管。", "如有问题请联系{item}，工作日九点到五点。", "客户资料：{label}{item}；备注：无。",
    "Please contact us at {item} for details.", "{label}: {item}\n谢谢！", "报名表中填写的{label}为 {item} 。",
)


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def id_number(rng: random.Random, valid: bool = True) -> str:
    body = (rng.choice(REGIONS) + f"{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            + digits(rng, 3))
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS)) % 11]
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


def luhn_number(rng: random.Random, prefix: str, length: int, valid: bool = True) -> str:
    body = prefix + digits(rng, length - len(prefix) - 1)
    good = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + (good if valid else rng.choice([d for d in "0123456789" if d != good]))


def grouped(number: str, sep: str = " ") -> str:
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def mobile(rng: random.Random) -> str:
    number = rng.choice(MOBILE_PREFIXES) + digits(rng, 8)
    style = rng.randrange(3)
    if style == 1:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return ("+86 " if style == 2 else "") + number


def landline(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    local = str(rng.randint(2, 8)) + digits(rng, 7 if len(area) == 3 else rng.choice((6, 7)))
    split = len(local) - 4  # 7-digit numbers are written 3-4, 8-digit ones 4-4
    return rng.choice((f"{area}-{local}", f"({area}) {local[:split]} {local[split:]}"))


def real_items(rng: random.Random) -> dict[str, Callable[[], str]]:
    return {
        "cn_id": lambda: id_number(rng),
        "cn_mobile": lambda: mobile(rng),
        "cn_bank_card": lambda: rng.choice((str, grouped))(luhn_number(rng, "62", rng.choice((16, 19)))),
        "cn_landline": lambda: landline(rng),
        "email": lambda: f"user{digits(rng, 3)}@example{rng.randint(1, 9)}.com",
        "credit_card": lambda: grouped(luhn_number(rng, "4", 16), "-"),
        "ip": lambda: f"{rng.randint(11, 99)}.{rng.randint(1, 250)}.{rng.randint(1, 250)}.{rng.randint(1, 250)}",
        "phone": lambda: rng.choice((f"+49 30 {digits(rng, 7)}", f"(555) {rng.randint(200, 999)}-{digits(rng, 4)}",
                                     f"+44 20 {digits(rng, 4)} {digits(rng, 4)}")),
    }


def look_alikes(rng: random.Random) -> dict[str, Callable[[], str]]:
    return {
        "id_bad_check": lambda: id_number(rng, valid=False),
        "digits_18": lambda: str(rng.randint(1, 9)) + digits(rng, 17),
        "order_no": lambda: "2023" + digits(rng, 16),
        "timestamp_ms": lambda: f"1{rng.randint(600000000000, 799999999999)}",
        "date": lambda: f"{rng.randint(1990, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "price": lambda: f"¥{rng.randint(1, 99)},{digits(rng, 3)}.{digits(rng, 2)}",
        "isbn": lambda: f"978-7-{rng.randint(100, 999)}-{digits(rng, 5)}-{rng.randint(0, 9)}",
        "postcode": lambda: f"{rng.choice(REGIONS)}",
        "card_bad_luhn": lambda: luhn_number(rng, "62", 16, valid=False),
        "digits_11_not_mobile": lambda: f"1{rng.choice('012')}{digits(rng, 9)}",
        "count": lambda: f"{rng.randint(10, 99)} {digits(rng, 3)} {digits(rng, 3)}",
    }


def build(docs_per_kind: int, seed: int) -> list[tuple[str, str, str]]:
    """[(kind, item, text)]: kind is a PII type (should be scrubbed) or a look-alike (should stay)."""
    rng = random.Random(seed)
    makers = {**real_items(rng), **look_alikes(rng)}
    out = []
    for kind, make in makers.items():
        for _ in range(docs_per_kind):
            item = make()
            out.append((kind, item, rng.choice(TEMPLATES).format(label="号码", item=item)))
    return out


def evaluate(docs: list[tuple[str, str, str]], scrub: Callable[[str], str],
             placeholders: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per PII type: tp, fp, fn, precision, recall (a type's placeholder in the output = a prediction)."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for kind, item, text in docs:
        out = scrub(text)
        predicted = {t for t, ph in placeholders.items() if ph in out and ph not in text}
        if kind in placeholders:
            hit = kind in predicted and item not in out
            tp[kind] += hit
            fn[kind] += not hit
        fp.update(t for t in predicted if t != kind)
    result = {}
    for t in placeholders:
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0
        r = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0
        result[t] = {"tp": tp[t], "fp": fp[t], "fn": fn[t], "precision": p, "recall": r}
    return result


def benchmark_config():
    """pipeline.pii of conf/ with every type on and a distinct placeholder per type (so predictions can be
    told apart; the shipped config maps both Chinese phone types to <PHONE>)."""
    from dataclasses import replace

    from data_prep.api import compose_prep

    cfg = compose_prep(["out_dir=unused", "pipeline=web_zh"])[0].pipeline.pii
    types = ["email", "ip", "cn_id", "cn_bank_card", "credit_card", "cn_mobile", "cn_landline", "phone", "ssn", "iban"]
    return replace(cfg, types=types, placeholders={t: f"<{t.upper()}>" for t in types}, max_matches=-1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs-per-kind", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = benchmark_config()
    scrubber = PiiScrubber(cfg)
    docs = build(args.docs_per_kind, args.seed)
    print(f"{len(docs)} documents, {args.docs_per_kind} per kind")
    print(f"{'type':14} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}")
    for t, m in evaluate(docs, lambda s: scrubber.scrub(s)[0], dict(cfg.placeholders)).items():
        print(f"{t:14} {m['precision']:9.4f} {m['recall']:7.4f} {m['tp']:5d} {m['fp']:4d} {m['fn']:4d}")


if __name__ == "__main__":
    main()
