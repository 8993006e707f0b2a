"""Surge and warming programs open while an alert of their kind is on, during their window."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import alerts
from server import protocol as schemas
from server.devices import config_message
from server.ingest.handler import handle
from server.models import (
    Alert,
    CurrentState,
    Device,
    DeviceChannel,
    Program,
    Reading,
    Role,
    Sector,
    TurnAway,
)
from server.queries import sites, summary
from server.settings import Settings
from tests.server.conftest import add_maple_house

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


def test_a_stored_window_that_is_no_clock_time_is_taken_as_all_day_and_logged(caplog):
    """Before the API checked windows, "99:99" could be stored, and every look at the surge
    programs then failed (the sweep that also ends holds)."""
    broken = WARMING.model_copy(update={"id": 7, "window_start": "99:99"})
    cold = Alert(kind="cold", name="Extreme Cold Weather Alert", started_at=at(2, 15))
    for now in (at(2, 16), at(2, 17)):
        assert alerts.opening(broken, [cold], now, TORONTO).is_open  # all day, with the alert
    [record] = caplog.records  # once, not at every look
    assert "program 7: window 99:99 to 12:00 is no clock time" in record.getMessage()


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


def test_a_closed_programs_dial_is_told_and_its_counts_there_are_refused(engine_each_database):
    """On SQLite and PostgreSQL: closing and opening give the dial a new config that says
    which channel is closed and the count it keeps there; a state that counts there is
    refused with the reason, one that keeps it stores the open channel only, and a
    turn-away there is recorded (docs/protocol.md, Closed programs)."""
    with Session(engine_each_database) as session:
        site = add_maple_house(session)
        men = session.exec(select(Program)).one()
        cots = Program(site_id=site.id, name="Cots", sector=Sector.men, capacity=30,
                       opens_with_alert="cold")  # fmt: skip
        session.add(cots)
        session.add(Alert(kind="cold", name="Extreme Cold Weather Alert"))
        session.flush()
        men_id, cots_id = men.id, cots.id
        session.add(DeviceChannel(device_id="dial-01", channel=1, program_id=cots_id, label="Cots"))
        session.commit()
        watcher = alerts.Watcher()
        watcher.look(session, TORONTO)  # learns: the cots are open

        def commit(seq, counts, mode="occupied", extra=None):
            channels = list(zip(counts, (20, 30), strict=True))
            payload = protocol.encode_state(1, seq, mode, 0, channels, None, "dial", extra)
            outcome = handle(session, protocol.topic("dial-01", "state"), payload, 4096, TORONTO)
            session.commit()
            return json.loads(outcome.replies[0][1])

        def config():
            device = session.get(Device, "dial-01")
            session.refresh(device)
            return device.config_version, json.loads(config_message(session, device, TORONTO)[1])

        assert commit(1, [12, 7])["result"] == "saved"
        version, sent = config()
        assert [set(ch) for ch in sent["channels"]] == [{"label", "capacity"}] * 2  # all open
        cots_before = session.get(CurrentState, cots_id).updated_at

        alert = session.exec(select(Alert)).one()
        alert.started_at -= timedelta(days=4)
        alert.ended_at = alert.started_at + timedelta(days=1)
        session.commit()
        assert watcher.look(session, TORONTO) == 1
        closed_version, sent = config()
        assert closed_version == version + 1  # the dial gets it again
        schemas.check("config", sent)
        assert sent["channels"][1] == {"label": "Cots", "capacity": 30, "closed": True, "count": 7}
        assert "closed" not in sent["channels"][0]
        device = session.get(Device, "dial-01")
        device.mode = "free"  # the count it keeps is in its mode: 30 - 7 free
        assert json.loads(config_message(session, device, TORONTO)[1])["channels"][1]["count"] == 23
        session.rollback()

        assert commit(2, [13, 7])["result"] == "saved"  # counted on the open channel
        assert commit(2, [13, 7])["result"] == "saved"  # a resend: a duplicate, not a conflict
        refused = commit(3, [13, 8])
        assert refused["result"] == "rejected"
        assert refused["reason"].startswith("closed: channel 1's program is not open now")
        assert refused["reason"].endswith("its count stays 7 until it opens")
        away = commit(4, [14, 7], extra=[{}, {"turned_away": {"no_bed": 1}}])
        assert away["result"] == "saved"
        assert session.exec(select(TurnAway.program_id, TurnAway.total)).all() == [(cots_id, 1)]
        stored = session.exec(select(Reading.seq, Reading.channel).order_by(Reading.id)).all()
        assert stored == [(1, 0), (1, 1), (2, 0), (4, 0)]  # nothing on the closed channel
        cots_now = session.get(CurrentState, cots_id)
        assert (cots_now.occupied, cots_now.updated_at) == (7, cots_before)  # its age stays
        assert session.get(CurrentState, men_id).occupied == 14

        session.add(Alert(kind="cold", name="Extreme Cold Weather Alert"))
        session.commit()
        assert watcher.look(session, TORONTO) == 1
        open_version, sent = config()
        assert open_version == closed_version + 1 and "closed" not in sent["channels"][1]
        assert commit(5, [14, 9])["result"] == "saved"
        assert session.get(CurrentState, cots_id).occupied == 9


def test_a_dial_that_never_counted_a_closed_program_is_told_and_stores_nothing_there(session, site):
    """No reading of its own there: the config says closed without a count, and the dial's
    count there (whatever it starts from) is neither refused nor stored."""
    cots = Program(site_id=site.id, name="Cots", sector=Sector.men, capacity=30,
                   opens_with_alert="cold")  # fmt: skip
    session.add(cots)
    session.flush()
    session.add(DeviceChannel(device_id="dial-01", channel=1, program_id=cots.id, label="Cots"))
    session.commit()
    device = session.get(Device, "dial-01")
    sent = json.loads(config_message(session, device, TORONTO)[1])
    assert sent["channels"][1] == {"label": "Cots", "capacity": 30, "closed": True}
    payload = protocol.encode_state(1, 1, "occupied", 0, [(4, 20), (3, 30)], None, "dial")
    outcome = handle(session, protocol.topic("dial-01", "state"), payload, 4096, TORONTO)
    session.commit()
    assert json.loads(outcome.replies[0][1])["result"] == "saved"
    assert session.exec(select(Reading.channel, Reading.occupied)).all() == [(0, 4)]
    assert session.get(CurrentState, cots.id) is None  # no count: unknown, never shown as 0
