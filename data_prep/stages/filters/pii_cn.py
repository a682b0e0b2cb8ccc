"""PII of mainland China: mobile numbers, 18-digit resident identity numbers, bank cards, landlines.

Chinese text has no spaces, so a number is delimited by non-digits (``电话13812345678。`` is a match)
rather than by word boundaries as in ``pii.py``. Every pattern refuses to start or end inside a longer
digit run, so an order number or a timestamp is never scrubbed in part — the over-matching of digit runs
the older patterns had. Validity checks keep precision up:

- resident identity number (GB 11643-1999): 6-digit region, a real birth date (1900..2099), 3-digit
  sequence, and the ISO 7064 MOD 11-2 check character (0-9 or X) — a random 18-digit run passes 1 in 11
  times only after also forming a valid date;
- mobile: 11 digits starting 13x-19x, optionally +86 / 0086, written whole or 3-4-4;
- bank card: 16-19 digits with the UnionPay prefix 62 and a valid Luhn checksum, written whole or in
  groups of four (Visa / Mastercard cards issued in China are the ``credit_card`` type);
- landline: an area code 0AA / 0AAA followed by a separator (``010-12345678``, ``(0755) 8765 4321``) and
  a 7-8 digit local number that starts with 2-9 — a bare digit run is never a landline.
"""

from __future__ import annotations

import datetime
import re

from data_prep.stages.filters.pii_checks import luhn_valid

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"

CN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
                   r"[0-9Xx](?![0-9A-Za-z])")
CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})(?![\d])")
CN_BANK_CARD = re.compile(r"(?<![\d.])(?:62\d{14,17}|62\d{2}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?![\d])")
CN_LANDLINE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-)[ ]?"
                         r"[2-9]\d{2,3}[ -]?\d{4}(?![\d])")


def id_number_valid(match: str) -> bool:
    """Birth date exists and the last character is the MOD 11-2 check of the first 17 digits."""
    number = match.upper()
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK_CHARS[total % 11] == number[17]


def bank_card_valid(match: str) -> bool:
    """16-19 digits, Luhn-valid, and not shaped like an identity number (region 62 is Gansu: an ID with a
    wrong check character would otherwise pass Luhn one time in ten)."""
    digits = "".join(ch for ch in match if ch.isdigit())
    if len(digits) == 18 and CN_ID.fullmatch(digits):
        return False
    return 16 <= len(digits) <= 19 and luhn_valid(digits)


def landline_valid(match: str) -> bool:
    local = "".join(ch for ch in match if ch.isdigit())
    return 10 <= len(local) <= 14
