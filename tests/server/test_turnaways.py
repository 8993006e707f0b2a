"""Turn-aways from dials' running totals: each person counted once whatever the order or
repetition of the messages, per night (noon to noon) by sector and reason."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from firmware.dialcore import protocol
from server import turnaways
from server.ingest.handler import handle
from server.models import TurnAway

STATE = protocol.topic("dial-01", "state")
TORONTO = ZoneInfo("America/Toronto")


def send(session, seq, turned, boot=1, count=5):
    payload = protocol.encode_state(
        boot, seq, "occupied", 1, [(count, 20)], None, extra=[{"turned_away": turned}]
    )
    outcome = handle(session, STATE, payload, 4096)
    session.commit()
    return outcome


def tonight() -> date:
    return turnaways.night_of(datetime.now(UTC), TORONTO)


def test_running_totals_count_each_person_once_in_any_order(session, site):
    send(session, 1, {"no_bed": 1})
    send(session, 3, {"no_bed": 3, "not_eligible_pets": 1})  # commit 2 never arrived...
    send(session, 2, {"no_bed": 2})  # ...until now: out of order
    send(session, 3, {"no_bed": 3, "not_eligible_pets": 1})  # a resend
    send(session, 4, {"no_bed": 3, "not_eligible_pets": 1}, count=6)  # a count, no turn-away
    send(session, 1, {"no_bed": 1}, boot=2)  # the next boot starts its totals again
    assert len(session.exec(select(TurnAway)).all()) == 5  # each total stored once
    rows = turnaways.counted(session, tonight(), tonight(), TORONTO)
    assert [(r.site_name, r.sector, r.reason, r.people) for r in rows] == [
        ("Maple House", "men", "no_bed", 4),
        ("Maple House", "men", "not_eligible_pets", 1),
    ]


def test_a_bad_reason_is_refused_by_the_schema(session, site):
    payload = protocol.encode_state(
        1, 1, "occupied", 1, [(5, 20)], None, extra=[{"turned_away": {"name": 1}}]
    )
    outcome = handle(session, STATE, payload, 4096)
    assert outcome.code == "bad_payload"
    assert "turned_away" in outcome.reason


def test_nights_run_noon_to_noon_in_the_city():
    evening = datetime(2026, 12, 2, 23, 30, tzinfo=TORONTO)
    small_hours = datetime(2026, 12, 3, 4, 0, tzinfo=TORONTO)
    next_day = datetime(2026, 12, 3, 12, 0, tzinfo=TORONTO)
    assert turnaways.night_of(evening.astimezone(UTC), TORONTO) == date(2026, 12, 2)
    assert turnaways.night_of(small_hours, TORONTO) == date(2026, 12, 2)
    assert turnaways.night_of(next_day, TORONTO) == date(2026, 12, 3)
