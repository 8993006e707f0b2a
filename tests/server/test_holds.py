"""Holds below the API: the split, how long one lasts, the race for the last place on each
database, and ending at their time."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import holds
from server.devices import config_message
from server.ingest.handler import handle, make_current
from server.models import Device, Hold, HoldState, Program, Reading, Sector, Site, utcnow
from server.queries import data_version, sites, summary
from server.settings import Settings

SETTINGS = Settings(_env_file=None)


def _program(session: Session, capacity: int, occupied: int, **fields) -> Program:
    """A site with one program of `capacity` places, `occupied` of them counted."""
    site = Site(name="Birch House", lat=43.65, lon=-79.38)
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Birch beds", sector=Sector.men, capacity=capacity)
    program.sqlmodel_update(fields)
    session.add(program)
    session.flush()
    reading = Reading(
        program_id=program.id, boot=1, seq=1, channel=0, occupied=occupied,
        capacity=capacity, source="import",
    )  # fmt: skip
    session.add(reading)
    session.flush()
    make_current(session, reading)
    session.commit()
    return program


def test_a_hold_counts_in_the_split_everywhere(session):
    program = _program(session, capacity=10, occupied=5, out_of_service=1)
    hold = holds.place(session, SETTINGS, program.id, None, note="arriving by bus")
    [site] = sites(session, SETTINGS)
    [shown] = site.programs
    # capacity = occupied + held + out of service + available
    assert (shown.occupied, shown.held, shown.out_of_service, shown.available) == (5, 1, 1, 3)
    assert (site.held, site.available) == (1, 3)
    assert (summary(session, SETTINGS).total.held, summary(session, SETTINGS).total.available) == (
        1,
        3,
    )
    assert hold.expires_at - hold.placed_at == timedelta(minutes=SETTINGS.hold_default_minutes)
    assert len(hold.code) == holds.CODE_LENGTH and set(hold.code) <= set(holds.CODE_ALPHABET)


def test_how_long_a_hold_lasts(session):
    program = _program(session, capacity=10, occupied=0, hold_minutes=240)
    # the program asks for more than the city allows: the city's maximum
    assert holds.minutes_for(program, SETTINGS, None) == SETTINGS.hold_max_minutes
    program.hold_minutes = 120
    assert holds.minutes_for(program, SETTINGS, None) == 120
    assert holds.minutes_for(program, SETTINGS, 30) == 30  # the worker's own
    with pytest.raises(holds.HoldRefused, match="at most 180 minutes"):
        holds.minutes_for(program, SETTINGS, 181)


@pytest.mark.parametrize(
    ("fields", "occupied", "code"),
    [
        ({}, 10, "full"),
        ({"accepting": False}, 0, "not_accepting"),
        ({"out_of_service": 3}, 7, "full"),
    ],
)
def test_a_hold_is_refused_with_the_reason(session, fields, occupied, code):
    program = _program(session, capacity=10, occupied=occupied, **fields)
    with pytest.raises(holds.HoldRefused) as refused:
        holds.place(session, SETTINGS, program.id, None)
    assert refused.value.code == code
    assert session.exec(select(Hold)).all() == []  # nothing half-written


def test_no_hold_without_a_count_or_a_program(session):
    program = Program(site_id=_program(session, 5, 0).site_id, name="New", sector=Sector.men)
    program.capacity = 5
    session.add(program)
    session.commit()
    with pytest.raises(holds.HoldRefused, match="no count yet"):
        holds.place(session, SETTINGS, program.id, None)
    with pytest.raises(holds.HoldRefused, match="no program with id 999"):
        holds.place(session, SETTINGS, 999, None)


def _race(engine, program_id: int, workers: int) -> list[str]:
    """`workers` press "hold" on the program at the same moment: what each got."""
    start = threading.Barrier(workers)
    outcomes: list[str] = []

    def worker():
        with Session(engine) as own:
            start.wait()
            try:
                holds.place(own, SETTINGS, program_id, None)
                outcomes.append("held")
            except holds.HoldRefused as refused:
                outcomes.append(refused.code)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_workers_racing_for_the_last_place_get_one_hold_and_one_refusal(
    engine_each_database,
):
    for _round in range(3):  # each round on a program of its own with one free place
        with Session(engine_each_database) as session:
            program_id = _program(session, capacity=2, occupied=1).id
        assert _race(engine_each_database, program_id, workers=3) == ["full", "full", "held"]
        with Session(engine_each_database) as session:
            [site] = sites(session, SETTINGS, {session.get(Program, program_id).site_id})
            assert (site.held, site.available) == (1, 0)


def test_holds_end_at_their_time_and_the_data_version_says_so(session):
    program = _program(session, capacity=4, occupied=0)
    due = holds.place(session, SETTINGS, program.id, None)
    later = holds.place(session, SETTINGS, program.id, None)
    assert holds.expire(session) == 0
    before = data_version(session)
    due.expires_at = utcnow() - timedelta(seconds=1)  # its time is up
    session.add(due)
    session.commit()
    [site] = sites(session, SETTINGS)
    assert site.held == 1  # counted out at its time, before any sweep
    assert holds.expire(session) == 1
    session.refresh(due)
    session.refresh(later)
    assert (due.state, later.state) == (HoldState.expired, HoldState.active)
    assert due.ended_at is not None
    assert data_version(session) != before  # lists kept by the API are built again
    with pytest.raises(holds.HoldRefused, match="ended already: expired"):
        holds.end(session, due, HoldState.cancelled)


def test_the_desk_sees_holds_in_its_config_and_ends_them_in_the_commit_of_its_count(session, site):
    program = session.exec(select(Program).where(Program.site_id == site.id)).one()
    program_id = program.id
    state = protocol.topic("dial-01", "state")

    def commit(seq, count, ended=None):
        extra = [{"holds_ended": ended}] if ended else None
        payload = protocol.encode_state(1, seq, "occupied", 1, [(count, 20)], None, "dial", extra)
        outcome = handle(session, state, payload, 4096)
        session.commit()
        return outcome

    commit(1, 12)
    version = session.get(Device, "dial-01").config_version
    arriving = holds.place(session, SETTINGS, program_id, None)
    released = holds.place(session, SETTINGS, program_id, None)
    assert session.get(Device, "dial-01").config_version == version + 2  # sent again each time
    config = protocol.decode_config(config_message(session, session.get(Device, "dial-01"))[1])
    [shown] = config["holds"]
    assert [(h["id"], h["code"]) for h in shown] == [
        (arriving.id, arriving.code),
        (released.id, released.code),
    ]
    assert shown[0]["until"] == int(arriving.expires_at.timestamp())

    commit(2, 13, {str(arriving.id): "arrived"})  # the person came: one more counted in
    commit(2, 13, {str(arriving.id): "arrived"})  # a resend: nothing more
    commit(3, 13, {str(released.id): "released"})
    session.refresh(arriving)
    session.refresh(released)
    assert (arriving.state, released.state) == (HoldState.arrived, HoldState.released)
    [shown_site] = sites(session, SETTINGS, {site.id})
    assert (shown_site.occupied, shown_site.held, shown_site.available) == (13, 0, 7)
    config = protocol.decode_config(config_message(session, session.get(Device, "dial-01"))[1])
    assert "holds" not in config  # the dial shows none now
