"""Surge and warming programs open while an alert of their kind is on, during their window."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from server import alerts
from server.models import Alert, Program, Role, Sector
from server.queries import sites, summary
from server.settings import Settings

TORONTO = ZoneInfo("America/Toronto")
SETTINGS = Settings(_env_file=None)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=TORONTO)


WARMING = Program(
    id=1, site_id=1, name="Warming centre", sector=Sector.mixed, capacity=40,
    opens_with_alert="cold", window_start="19:00", window_end="12:00",
)  # fmt: skip


@pytest.mark.parametrize(
    ("started", "ended", "now", "open_until"),
    [
        (at(2, 15), None, at(2, 18, 59), None),  # alert on, window not yet: closed
        (at(2, 15), None, at(2, 19), at(3, 12)),  # "at its next window"
        (at(2, 21), None, at(2, 21), at(3, 12)),  # the window is running: at once
        (at(2, 15), at(3, 8), at(3, 11, 59), at(3, 12)),  # ended: open until its window ends
        (at(2, 15), at(3, 8), at(3, 12), None),  # then closed
        (at(2, 15), at(3, 8), at(3, 19), None),  # and not again
        (at(3, 13), at(3, 14), at(3, 20), None),  # an alert between two windows opens none
    ],
)
def test_a_warming_centre_opens_at_its_next_window_and_closes_after_it(
    started, ended, now, open_until
):
    alert = Alert(kind="cold", name="Extreme Cold Weather Alert", started_at=started)
    alert.ended_at = ended
    opening = alerts.opening(WARMING, [alert], now, TORONTO)
    assert opening.is_open == (open_until is not None)
    if open_until:
        assert (opening.alert, opening.until) == ("Extreme Cold Weather Alert", open_until)


def test_other_kinds_open_nothing_and_ordinary_programs_are_always_open():
    heat = Alert(kind="heat", name="Heat warning", started_at=at(2, 10))
    assert not alerts.opening(WARMING, [heat], at(2, 20), TORONTO).is_open
    ordinary = Program(id=2, site_id=1, name="Beds", sector=Sector.men, capacity=9)
    assert alerts.opening(ordinary, [], at(2, 20), TORONTO) is alerts.ALWAYS


def test_a_closed_centre_is_hidden_from_the_public_and_its_beds_from_the_totals(session, site):
    session.add(Program(site_id=site.id, name="Cots", sector=Sector.men, capacity=30,
                        opens_with_alert="cold"))  # fmt: skip
    session.commit()
    [public] = sites(session, SETTINGS)
    assert [p.name for p in public.programs] == ["Men's beds"]  # the cots: not tonight
    assert public.capacity == 20 and summary(session, SETTINGS).total.programs == 1
    [keyed] = sites(session, SETTINGS, role=Role.outreach)
    assert [(p.name, p.is_open) for p in keyed.programs] == [("Men's beds", True), ("Cots", False)]
    session.add(Alert(kind="cold", name="Extreme Cold Weather Alert"))
    session.commit()
    [public] = sites(session, SETTINGS)
    cots = public.programs[1]
    assert (cots.is_open, cots.open_for) == (True, "Extreme Cold Weather Alert")
    assert public.capacity == 50 and summary(session, SETTINGS).total.programs == 2
    watcher = alerts.Watcher()
    assert watcher.look(session, TORONTO) == 0  # the first look only learns
    alert = session.exec(select(Alert)).one()
    alert.started_at -= timedelta(days=4)  # as if long over
    alert.ended_at = alert.started_at + timedelta(days=1)
    session.commit()
    assert watcher.look(session, TORONTO) == 1  # the cots closed: their site is sent again
