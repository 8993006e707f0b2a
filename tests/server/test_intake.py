"""Intake hours from text to spans, and "open at this time?" over weekdays and nights."""

from datetime import datetime

import pytest

from server.intake import is_open, parse_hours

MON_NOON = datetime(2026, 11, 30, 12, 0)  # a Monday
SAT_3AM = datetime(2026, 12, 5, 3, 0)
SUN_3AM = datetime(2026, 12, 6, 3, 0)


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("24/7", [f"{d} 00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]),
        (
            "Daily 08:00-23:00",
            [f"{d} 08:00-23:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
        ),
        ("Mon-Fri 09:00-17:00", [f"{d} 09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")]),
        ("Fri-Sun 20:00-08:00", ["fri 20:00-08:00", "sat 20:00-08:00", "sun 20:00-08:00"]),
        (
            "Mon, Wed 9-17; Sat 10:00 to 14:00",
            ["mon 09:00-17:00", "wed 09:00-17:00", "sat 10:00-14:00"],
        ),
        ("Weekends 18:00-24:00", ["sat 18:00-24:00", "sun 18:00-24:00"]),
        ("Call first", None),
        ("Mon-Fri 9am-5pm", None),  # not guessed: the text stays for people to read
        ("Mon-Fri 25:00-26:00", None),
        ("", None),
    ],
)
def test_intake_hours_are_read_from_text_where_they_parse(text, spans):
    assert parse_hours(text) == spans


def test_open_now_follows_weekdays_and_overnight_spans():
    office = parse_hours("Mon-Fri 09:00-17:00")
    assert is_open(office, MON_NOON) is True
    assert is_open(office, SAT_3AM) is False
    night = parse_hours("Fri 20:00-08:00")  # Friday evening into Saturday morning
    assert is_open(night, SAT_3AM) is True
    assert is_open(night, SUN_3AM) is False
    assert is_open(parse_hours("24/7"), SUN_3AM) is True
    assert is_open(["sun 20:00-08:00"], datetime(2026, 11, 30, 7, 59)) is True  # across the week
    assert is_open([], MON_NOON) is False  # never: by referral only
    assert is_open(None, MON_NOON) is None  # not known
