"""What a text asks (server/sms/inbound.py parse); the answers are tested through the API
(tests/server/api/test_sms.py)."""

import pytest

from server.sms.inbound import Ask, parse


@pytest.mark.parametrize(
    ("message", "asked"),
    [
        ("BEDS M5V 2T6 women", Ask("en", "M5V 2T6", "women")),
        ("beds m5v2t6", Ask("en", "m5v2t6", None)),
        ("  Beds   Queen St W   MEN ", Ask("en", "Queen St W", "men")),
        ("BED Scarborough family", Ask("en", "Scarborough", "family")),
        ("LITS H2X 1Y4 femmes", Ask("fr", "H2X 1Y4", "women")),
        ("lits Montréal jeunes", Ask("fr", "Montréal", "youth")),
        ("LITS Laval familles", Ask("fr", "Laval", "family")),
        ("BEDS Kingston hommes", Ask("en", "Kingston", "men")),  # either language's words
        ("BEDS women", Ask("en", "", "women")),  # no place: the caller answers with help
        ("BEDS", Ask("en", "", None)),
    ],
)
def test_a_question_is_read_in_any_case_and_spacing(message, asked):
    assert parse(message) == asked


@pytest.mark.parametrize("message", ["", "   ", "hello", "where BEDS M5V", "BEDSM5V", "STOP"])
def test_anything_else_is_not_a_question(message):
    assert parse(message) is None
