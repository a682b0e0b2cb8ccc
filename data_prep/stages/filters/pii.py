"""PII scrubbing: typed placeholders for e-mail addresses, phone numbers, public IP addresses, payment
card numbers, US social security numbers and IBANs, and mainland-China identity numbers, bank cards, mobile
and landline numbers (``pii_cn.py``: delimited by non-digits, so they are found inside unspaced Chinese).

Each type is a precompiled pattern plus, where one exists, a validity check that removes most false
positives: payment cards must pass the Luhn checksum, start like a card (Visa, Mastercard, Amex,
Discover, ...) and have that brand's length; IBANs must pass the ISO 13616 mod-97 check; IP addresses must parse and be globally
routable (private, loopback, documentation and link-local ranges are not personal data); SSNs skip the
never-issued areas 000/666/9xx; phone numbers need 7-15 digits and separators or a "+" so that plain
numbers (years, prices, ids) stay. Match boundaries are ASCII letters and digits, not any word
character, so an address right after Chinese text (``联系user@example.com``) is still found. Types run in a
fixed order (e-mail first, so the digits of an address are not read as a phone number). Matches are
counted as ``pii/<type>``; a document with more than ``max_matches`` matches is rejected ("pii/too_many").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import replace

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters import pii_cn
from data_prep.stages.filters.config import PiiConfig
from data_prep.stages.filters.pii_checks import iban_valid, luhn_valid

_EMAIL = re.compile(r"(?<![0-9A-Za-z_.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                    r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![0-9A-Za-z_-])")
_IBAN = re.compile(r"(?<![0-9A-Za-z_])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![0-9A-Za-z_])")
# 13-19 digits written as one run, in groups of four (4-4-4-4[-1..3]) or Amex style (4-6-5)
_CARD = re.compile(r"(?<![0-9A-Za-z_.+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
                   r"|\d{4}([ -])\d{6}\2\d{5})(?![0-9A-Za-z_-])")
_SSN = re.compile(r"(?<![0-9A-Za-z_-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![0-9A-Za-z_-])")
_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international: +CC ...
    r"|\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # national with area code in brackets: (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # North American: 555-123-4567
    r"|0\d{1,4}[ /]\d{2,4}(?: ?\d{2,4}){1,3}"  # trunk prefix 0: 030 1234567, 020 7946 0958
    r")(?![0-9A-Za-z_])"
)
_IPV4 = re.compile(r"(?<![0-9A-Za-z_.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z_.]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Za-z_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|3(?:0[0-5]|[68])|35")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


# card number lengths by brand prefix (ISO/IEC 7812 issuer ranges): a Luhn-valid digit run of another length
# is not that brand's card (an 18-digit run starting with 4 is not a Visa number)
_CARD_LENGTHS = (("34", {15}), ("37", {15}), ("4", {13, 16, 19}), ("5", {16}), ("2", {16}), ("6011", set(range(16, 20))),
                 ("65", set(range(16, 20))), ("64", set(range(16, 20))), ("62", set(range(16, 20))),
                 ("35", set(range(16, 20))), ("30", set(range(14, 20))), ("36", set(range(14, 20))),
                 ("38", set(range(14, 20))))


def _card_ok(match: str) -> bool:
    number = _digits(match)
    if not (13 <= len(number) <= 19 and _CARD_PREFIX.match(number) and luhn_valid(number)):
        return False
    return any(number.startswith(prefix) and len(number) in lengths for prefix, lengths in _CARD_LENGTHS)


def _phone_ok(match: str) -> bool:
    return 7 <= len(_digits(match)) <= 15


def _ip_ok(match: str) -> bool:
    try:
        return ipaddress.ip_address(match).is_global
    except ValueError:
        return False


# Cheap tests that must hold before a pattern can match; most documents fail them and skip the scan.
_TWO_DIGITS = re.compile(r"\d\d")
_HEX_COLON = re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f:]")
_DIGIT_DOT = re.compile(r"\d\.\d")


def _has_at(text: str) -> bool:
    return "@" in text


def _has_digits(text: str) -> bool:
    return _TWO_DIGITS.search(text) is not None


def _has_digit_dot(text: str) -> bool:
    return "." in text and _DIGIT_DOT.search(text) is not None


def _has_hex_colon(text: str) -> bool:
    return ":" in text and _HEX_COLON.search(text) is not None


Check = Callable[[str], bool]
# type -> [(precondition on the whole text, pattern, validity check of a match)], applied in this order
_DETECTORS: dict[str, list[tuple[Check, re.Pattern, Check | None]]] = {
    "email": [(_has_at, _EMAIL, None)],
    # before cards and phones: an identity number passes Luhn one time in ten and holds phone-like runs
    "cn_id": [(_has_digits, pii_cn.CN_ID, pii_cn.id_number_valid)],
    "iban": [(_has_digits, _IBAN, iban_valid)],
    "cn_bank_card": [(_has_digits, pii_cn.CN_BANK_CARD, pii_cn.bank_card_valid)],
    "credit_card": [(_has_digits, _CARD, _card_ok)],
    "ssn": [(_has_digits, _SSN, None)],
    "ip": [(_has_hex_colon, _IPV6, _ip_ok), (_has_digit_dot, _IPV4, _ip_ok)],
    "cn_mobile": [(_has_digits, pii_cn.CN_MOBILE, None)],
    "cn_landline": [(_has_digits, pii_cn.CN_LANDLINE, pii_cn.landline_valid)],
    "phone": [(_has_digits, _PHONE, _phone_ok)],
}


class PiiScrubber(Stage):
    name = "pii"

    def __init__(self, cfg: PiiConfig) -> None:
        self.cfg = cfg
        self.steps = [(kind, gate, pattern, check, cfg.placeholders[kind])
                      for kind, detectors in _DETECTORS.items() if kind in cfg.types
                      for gate, pattern, check in detectors]

    def scrub(self, text: str) -> tuple[str, dict[str, int]]:
        """(text with placeholders, matches per type)."""
        counts: dict[str, int] = {}
        for kind, gate, pattern, check, placeholder in self.steps:
            if not gate(text):
                continue
            found = 0

            def substitute(match: re.Match, check=check, placeholder=placeholder) -> str:
                nonlocal found
                if check is not None and not check(match.group()):
                    return match.group()
                found += 1
                return placeholder

            text = pattern.sub(substitute, text)
            if found:
                counts[kind] = counts.get(kind, 0) + found
        return text, counts

    def process(self, doc: Document, stats: Stats) -> Document | str:
        text, counts = self.scrub(doc.text)
        for kind, n in counts.items():
            stats.count(f"pii/{kind}", n)
        if 0 <= self.cfg.max_matches < sum(counts.values()):
            return "too_many"
        return doc if not counts else replace(doc, text=text)
