"""Intake hours as data: spans of "mon 09:00-17:00" (server/models.py IntakeSpan), read from
the free text shelters write where it parses, and asked "open at this local time?".

The map asks the same question in the page (map/static/find.js intakeOpen), at the reader's
moment and in the city's time zone; this module is the reference its test is checked against.
"""

import re
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
WHOLE_DAY = "00:00-24:00"
DAY_MINUTES = 24 * 60
ALWAYS = ("24/7", "24 hours", "24h", "open 24 hours", "24 hours a day", "24/7/365")
DAY_WORDS = {
    "daily": DAYS,
    "every day": DAYS,
    "7 days": DAYS,
    "weekdays": DAYS[:5],
    "weekends": DAYS[5:],
}
_SEGMENT = re.compile(
    r"^(?P<days>[a-z ,\-\u2013]+?)\s*:?\s*(?P<start>\d{1,2}(?::\d\d)?)\s*(?:-|\u2013|to)\s*"
    r"(?P<end>\d{1,2}(?::\d\d)?)$"
)


def parse_hours(text: str | None) -> list[str] | None:
    """Spans for intake hours written as text ("24/7", "Daily 08:00-23:00", "Mon-Fri
    09:00-17:00; Sat 10:00-14:00", "Weekends 20:00-08:00"); None when the text does not
    parse (it stays as text for people to read, and nobody claims intake is open)."""
    if not text:
        return None
    clean = text.strip().lower().rstrip(".")
    if clean in ALWAYS:
        return [f"{day} {WHOLE_DAY}" for day in DAYS]
    spans: list[str] = []
    for segment in clean.split(";"):
        match = _SEGMENT.match(segment.strip())
        days = _days(match["days"].strip()) if match else None
        start, end = (_time(match[k]) for k in ("start", "end")) if match else (None, None)
        if not days or start is None or end is None or start == "24:00":
            return None
        spans += [f"{day} {start}-{end}" for day in days]
    return spans


def _days(words: str) -> tuple[str, ...] | None:
    if words in DAY_WORDS:
        return DAY_WORDS[words]
    found: list[str] = []
    for part in re.split(r"\s*,\s*|\s+and\s+", words):
        ends = [p.strip()[:3] for p in re.split(r"\s*[-\u2013]\s*|\s+to\s+", part)]
        if not all(end in DAYS for end in ends) or len(ends) > 2:
            return None
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        found += [DAYS[(first + i) % 7] for i in range((last - first) % 7 + 1)]
    return tuple(found)


def _time(value: str) -> str | None:
    hours, _, minutes = value.partition(":")
    hour, minute = int(hours), int(minutes or 0)
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return f"{hour:02d}:{minute:02d}"


def is_open(spans: list[str] | None, local: datetime) -> bool | None:
    """Intake open at `local` (the city's wall-clock time)? None when the hours are unknown."""
    if spans is None:
        return None
    minute_of_week = local.weekday() * DAY_MINUTES + local.hour * 60 + local.minute
    week = 7 * DAY_MINUTES
    for span in spans:
        day, _, times = span.partition(" ")
        start, end = (_minutes(t) for t in times.split("-"))
        begins = DAYS.index(day) * DAY_MINUTES + start
        # overnight when the end is not after the start: it runs on into the next day
        length = end - start if end > start else DAY_MINUTES - start + end
        if (minute_of_week - begins) % week < length:
            return True
    return False


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)
