"""Texts stay SMS-sized and say how old a count is (server/sms/text.py)."""

from datetime import timedelta

from server.models import utcnow
from server.sms import text


def test_a_text_keeps_its_first_lines_within_the_limit():
    lines = ["Free now near M5V:"] + [f"{n}. {'x' * 200}" for n in range(1, 4)]
    fitted = text.fit(lines)
    assert len(fitted) <= text.LIMIT == 459
    assert fitted == "\n".join(lines[:3])
    assert text.fit(["y" * 600]) == "y" * text.LIMIT  # one line alone is cut


def test_long_names_are_cut_and_short_ones_kept():
    assert text.name("Oak House") == "Oak House"
    cut = text.name("The Very Long Name of a Shelter Downtown West")
    assert (cut, len(cut)) == ("The Very Long Name of a Shelt...", text.NAME_CHARS)


def test_the_age_of_a_count_in_minutes_then_hours_in_each_language():
    now = utcnow()
    assert text.age(now - timedelta(minutes=4, seconds=50), now, "en") == "4 min ago"
    assert text.age(now - timedelta(minutes=119), now, "fr") == "il y a 119 min"
    assert text.age(now - timedelta(hours=2, minutes=59), now, "en") == "2 h ago"
    assert text.age(now + timedelta(seconds=5), now, "en") == "0 min ago"  # a clock ahead


def test_every_language_has_every_text():
    assert set(text.WORDS) == set(text.SECTORS) == set(text.LANGUAGES)
    for language in text.LANGUAGES:
        assert text.WORDS[language].keys() == text.WORDS["en"].keys()
        assert text.SECTORS[language].keys() == text.SECTORS["en"].keys()
