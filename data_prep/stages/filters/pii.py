"""PII scrubbing: typed placeholders for e-mail addresses, phone numbers, public IP addresses, payment
card numbers, US social security numbers and IBANs.

Each type is a precompiled pattern plus, where one exists, a validity check that removes most false
positives: payment cards must pass the Luhn checksum and start like a card (Visa, Mastercard, Amex,
Discover, ...); IBANs must pass the ISO 13616 mod-97 check; IP addresses must parse and be globally
routable (private, loopback, documentation and link-local ranges are not personal data); SSNs skip the
never-issued areas 000/666/9xx; phone numbers need 7-15 digits and separators or a "+" so that plain
numbers (years, prices, ids) stay. Types run in a fixed order (e-mail first, so the digits of an address
are not read as a phone number). Matches are counted as ``pii/<type>``; a document with more than
``max_matches`` matches is rejected ("pii/too_many").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import replace

from data_prep.document import Document, Stats
from data_prep.stages.base import Stage
from data_prep.stages.filters.config import PiiConfig

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                    r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])")
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])")
# 13-19 digits written as one run, in groups of four (4-4-4-4[-1..3]) or Amex style (4-6-5)
_CARD = re.compile(r"(?<![\w.+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
                   r"|\d{4}([ -])\d{6}\2\d{5})(?![\w-])")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international: +CC ...
    r"|\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # national with area code in brackets: (555) 123-4567
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # North American: 555-123-4567
    r"|0\d{1,4}[ /]\d{2,4}(?: ?\d{2,4}){1,3}"  # trunk prefix 0: 030 1234567, 020 7946 0958
    r")(?![\w])"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|3(?:0[0-5]|[68])|35")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(match: str) -> bool:
    number = _digits(match)
    return 13 <= len(number) <= 19 and bool(_CARD_PREFIX.match(number)) and luhn_valid(number)


def iban_valid(match: str) -> bool:
    iban = match.replace(" ", "")
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


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
    "iban": [(_has_digits, _IBAN, iban_valid)],
    "credit_card": [(_has_digits, _CARD, _card_ok)],
    "ssn": [(_has_digits, _SSN, None)],
    "ip": [(_has_hex_colon, _IPV6, _ip_ok), (_has_digit_dot, _IPV4, _ip_ok)],
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
