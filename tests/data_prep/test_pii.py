"""PII scrubbing: every type replaced by its placeholder, checksums and public-only rules respected."""

from __future__ import annotations

from dataclasses import replace

import pytest

from data_prep.document import Document, Stats
from data_prep.stages.filters.pii import PiiScrubber, iban_valid, luhn_valid
from tests.data_prep.filter_texts import pipeline_config

CFG = pipeline_config("web").pii


def scrub(text: str, **overrides) -> tuple[str, dict[str, int]]:
    return PiiScrubber(replace(CFG, **overrides)).scrub(text)


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("Write to jane.doe+news@mail.example.org today.", "Write to <EMAIL> today.", "email"),
        ("Call +1 (555) 123-4567 now.", "Call <PHONE> now.", "phone"),
        ("Call +44 20 7946 0958 now.", "Call <PHONE> now.", "phone"),
        ("Call +49 30 1234567 now.", "Call <PHONE> now.", "phone"),
        ("Call (555) 123-4567 now.", "Call <PHONE> now.", "phone"),
        ("Call 555-123-4567 now.", "Call <PHONE> now.", "phone"),
        ("Ruf an: 030 1234567.", "Ruf an: <PHONE>.", "phone"),
        ("Server at 8.8.8.8 answered.", "Server at <IP_ADDRESS> answered.", "ip"),
        ("Server at 2001:4860:4860::8888 answered.", "Server at <IP_ADDRESS> answered.", "ip"),
        ("Card 4111 1111 1111 1111 charged.", "Card <CREDIT_CARD> charged.", "credit_card"),
        ("Card 5500-0000-0000-0004 charged.", "Card <CREDIT_CARD> charged.", "credit_card"),
        ("SSN 123-45-6789 on file.", "SSN <US_SSN> on file.", "ssn"),
        ("Pay to DE89 3704 0044 0532 0130 00 please.", "Pay to <IBAN> please.", "iban"),
        ("Pay to GB82WEST12345698765432 please.", "Pay to <IBAN> please.", "iban"),
    ],
)
def test_each_type_is_replaced(text: str, expected: str, kind: str) -> None:
    assert scrub(text) == (expected, {kind: 1})


@pytest.mark.parametrize(
    "text",
    [
        "Private 192.168.1.20, loopback 127.0.0.1, link-local fe80::1 and ::1 stay.",
        "Card 4111 1111 1111 1112 fails Luhn.",
        "IBAN GB82 WEST 1234 5698 7654 33 fails mod 97.",
        "SSN 000-12-3456 and 666-12-3456 are never issued.",
        "Year 2023, version 3.11.7, price 1,299.99, id 12345678, time 12:30:45, std::vector.",
        "Dates 2024-01-15 and 15.01.2024 are not phones.",
    ],
)
def test_non_pii_is_left_alone(text: str) -> None:
    assert scrub(text) == (text, {})


def test_placeholders_and_types_are_configurable() -> None:
    text = "Mail a@b.io or call +1 555 123 4567."
    assert scrub(text, types=["email"], placeholders={"email": "[mail]"}) == (
        "Mail [mail] or call +1 555 123 4567.", {"email": 1})


def test_stage_counts_per_type_and_drops_over_limit() -> None:
    doc = Document(id="d", text="a@b.io, c@d.io and 8.8.4.4", source="s", license="l")
    stats = Stats()
    out = PiiScrubber(CFG).process(doc, stats)
    assert out.text == "<EMAIL>, <EMAIL> and <IP_ADDRESS>"
    assert stats.counters == {"pii/email": 2, "pii/ip": 1}
    assert PiiScrubber(replace(CFG, max_matches=2)).process(doc, Stats()) == "too_many"
    assert PiiScrubber(replace(CFG, max_matches=-1)).process(doc, Stats()).text == out.text
    clean = Document(id="c", text="Nothing to see.", source="s", license="l")
    assert PiiScrubber(CFG).process(clean, Stats()) is clean


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
