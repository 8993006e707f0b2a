"""History for city staff: buckets of readings with min, max and last, and the city by sector.

The times are in Toronto (SIGNAL_TIMEZONE's default), around the switch to daylight saving
time on 9 March 2025, when a day lasts 23 hours.
"""

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.api.main import create_app
from server.db import make_engine, migrate
from server.models import Program, Reading, Sector, Site


@pytest.fixture
def staff(settings):
    """The bootstrap admin key's headers: an admin may do what city staff may."""
    return {"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"}


def add(session, program_id, at, occupied, capacity=20, out_of_service=0, seq=None):
    """A reading from boot 1 of a dial; seq, unless given, in arrival order."""
    seq = seq or len(session.exec(select(Reading)).all()) + 1
    session.add(
        Reading(
            program_id=program_id,
            boot=1,
            seq=seq,
            channel=0,
            occupied=occupied,
            capacity=capacity,
            out_of_service=out_of_service,
            source="dial",
            received_at=datetime.fromisoformat(at),
        )
    )
    session.commit()


def new_program(session, site_name, sector, capacity=20) -> Program:
    """A site with one program, named after its sector."""
    site = Site(name=site_name)
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name=sector.title(), sector=sector, capacity=capacity)
    session.add(program)
    session.commit()
    return program


def morning(session) -> int:
    """A 20-bed men's program with readings on 8 March 2025 (EST, UTC-5)."""
    program = new_program(session, "Maple House", Sector.men)
    add(session, program.id, "2025-03-08T10:05:00-05:00", 5)
    add(session, program.id, "2025-03-08T10:20:00-05:00", 9)
    add(session, program.id, "2025-03-08T10:50:00-05:00", 7, out_of_service=2)
    # capacity went up at noon: the reading keeps the capacity it was counted against
    add(session, program.id, "2025-03-08T12:10:00-05:00", 3, capacity=25)
    return program.id


def history(client, staff, **params) -> dict:
    response = client.get("/api/v1/history", params=params, headers=staff)
    assert response.status_code == 200, response.text
    return response.json()


def hourly(client, staff, program_id):
    return history(
        client,
        staff,
        program_id=program_id,
        start="2025-03-08T10:00:00",  # no offset: Toronto time
        end="2025-03-08T13:00:00-05:00",
        interval="hour",
    )


def check_hourly(body):
    [series] = body["series"]
    assert series["program"]["name"] == "Men"
    assert series["points"] == [
        {
            "start": "2025-03-08T10:00:00-05:00",
            "readings": 3,
            "occupied_min": 5,
            "occupied_max": 9,
            "occupied_last": 7,
            "capacity": 20,
            "out_of_service": 2,
            "available": 11,
            "occupancy_rate": 0.3889,  # 7 of the 18 usable beds
        },
        # no point for 11:00: nothing was counted, and none is invented
        {
            "start": "2025-03-08T12:00:00-05:00",
            "readings": 1,
            "occupied_min": 3,
            "occupied_max": 3,
            "occupied_last": 3,
            "capacity": 25,
            "out_of_service": 0,
            "available": 22,
            "occupancy_rate": 0.12,
        },
    ]
    assert body["start"] == "2025-03-08T10:00:00-05:00"  # read in Toronto time
    assert body["updated_at"] == "2025-03-08T17:10:00Z"


def test_hourly_history_has_min_max_last_and_the_capacity_of_the_time(client, session, staff):
    check_hourly(hourly(client, staff, morning(session)))


def test_raw_history_is_every_reading(client, session, staff):
    program_id = morning(session)
    body = history(
        client,
        staff,
        program_id=program_id,
        start="2025-03-08T00:00",
        interval="raw",
        end="2025-03-09T00:00",
    )
    points = body["series"][0]["points"]
    assert [(p["start"], p["occupied_last"]) for p in points] == [
        ("2025-03-08T10:05:00-05:00", 5),
        ("2025-03-08T10:20:00-05:00", 9),
        ("2025-03-08T10:50:00-05:00", 7),
        ("2025-03-08T12:10:00-05:00", 3),
    ]


def test_a_day_is_a_local_day_even_when_the_clocks_change(client, session, staff):
    program_id = morning(session)
    add(session, program_id, "2025-03-09T01:30:00-05:00", 4)  # before the change (EST)
    add(session, program_id, "2025-03-09T23:30:00-04:00", 6)  # after it (EDT): same day
    add(session, program_id, "2025-03-10T00:30:00-04:00", 8)
    body = history(
        client, staff, program_id=program_id, start="2025-03-09", end="2025-03-11", interval="day"
    )
    points = body["series"][0]["points"]
    assert [(p["start"], p["readings"], p["occupied_min"], p["occupied_last"]) for p in points] == [
        ("2025-03-09T00:00:00-05:00", 2, 4, 6),
        ("2025-03-10T00:00:00-04:00", 1, 8, 8),
    ]


def test_a_sites_history_has_a_series_per_program(client, session, staff):
    program_id = morning(session)
    site_id = session.get(Program, program_id).site_id
    session.add(Program(site_id=site_id, name="Women", sector=Sector.women, capacity=5))
    session.commit()
    body = history(client, staff, site_id=site_id, start="2025-03-08T10:00", end="2025-03-08T13:00")
    assert [(s["program"]["name"], len(s["points"])) for s in body["series"]] == [
        ("Men", 2),
        ("Women", 0),
    ]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 422, "program_id: give program_id or site_id (one of them)"),
        ({"program_id": 1, "site_id": 1}, 422, "program_id: give program_id or site_id"),
        ({"program_id": 99}, 404, "no program with id 99"),
        ({"site_id": 99}, 404, "no shelter with id 99"),
        ({"program_id": 1, "interval": "week"}, 422, "interval: Input should be"),
        ({"program_id": 1, "start": "yesterday"}, 422, "start: Input should be a valid datetime"),
        (
            {"program_id": 1, "start": "2025-03-08T12:00", "end": "2025-03-08T11:00"},
            422,
            "start: must be before end",
        ),
        (
            {"program_id": 1, "end": "0001-01-01T00:00:00"},  # a day before it is no date
            422,
            "end: must lie between 2000 and 2100",
        ),
        (
            {"program_id": 1, "start": "9999-12-31T23:00:00-05:00"},
            422,
            "start: must lie between 2000 and 2100",
        ),
        (
            {"program_id": 1, "start": "2025-01-01", "end": "2025-03-01", "interval": "raw"},
            422,
            "end: interval=raw spans at most 31 days; ask for less",
        ),
    ],
)
def test_a_history_request_that_cannot_be_answered_says_why(
    client, session, staff, params, status, message
):
    morning(session)
    response = client.get("/api/v1/history", params=params, headers=staff)
    assert response.status_code == status
    assert response.json()["error"]["message"].startswith(message)


def sectors_scenario(session, men):
    """Men: 10 in use from 14:00, 12 from 15:30; women (a new site): 3 of 10 from 16:15."""
    women = new_program(session, "Willow Place", Sector.women, capacity=10)
    add(session, men, "2025-03-08T14:00:00-05:00", 10)
    add(session, men, "2025-03-08T15:30:00-05:00", 12)
    add(session, women.id, "2025-03-08T16:15:00-05:00", 3, capacity=10)


def check_sectors(client, staff):
    body = client.get(
        "/api/v1/history/sectors",
        params={"start": "2025-03-08T15:00", "end": "2025-03-08T17:00", "interval": "hour"},
        headers=staff,
    ).json()
    by_sector = {s["sector"]: s["points"] for s in body["sectors"]}
    assert set(by_sector) == {"men", "women"}  # the sectors that have programs
    numbers = ("start", "programs_reporting", "capacity", "occupied", "available")
    assert [tuple(p[k] for k in numbers) for p in by_sector["men"]] == [
        ("2025-03-08T15:00:00-05:00", 1, 20, 12, 8),  # as of 16:00: the 15:30 reading
        ("2025-03-08T16:00:00-05:00", 1, 20, 12, 8),  # carried on: nothing newer
    ]
    assert [tuple(p[k] for k in numbers) for p in by_sector["women"]] == [
        ("2025-03-08T15:00:00-05:00", 0, 0, 0, 0),
        ("2025-03-08T16:00:00-05:00", 1, 10, 3, 7),
    ]
    assert body["updated_at"] == "2025-03-08T21:15:00Z"


def test_sector_history_carries_each_programs_last_count_forward(client, session, staff):
    sectors_scenario(session, morning(session))
    check_sectors(client, staff)


def late_arrival(session) -> int:
    """A 20-bed youth program: seq 10 (3 in use) arrives at 13:10, then seq 9 (17 in use),
    resent late, at 13:40, and seq 8 at 14:20. The map shows 3, the newest count, and so must
    every figure of the history."""
    program = new_program(session, "Birch Hall", Sector.youth)
    add(session, program.id, "2025-03-08T13:10:00-05:00", 3, seq=10)
    add(session, program.id, "2025-03-08T13:40:00-05:00", 17, seq=9)
    add(session, program.id, "2025-03-08T14:20:00-05:00", 15, seq=8)  # alone in its hour
    return program.id


def check_late_arrival(client, staff, program_id):
    body = history(
        client,
        staff,
        program_id=program_id,
        start="2025-03-08T13:00",
        end="2025-03-08T15:00",
        interval="hour",
    )
    numbers = ("start", "occupied_min", "occupied_max", "occupied_last", "available")
    assert [tuple(p[k] for k in numbers) for p in body["series"][0]["points"]] == [
        ("2025-03-08T13:00:00-05:00", 3, 17, 3, 17),
        ("2025-03-08T14:00:00-05:00", 15, 15, 3, 17),  # seq 8 < 10: the map still shows 3
    ]
    body = client.get(  # from 14:00: seq 10 stood before it, though seq 9 arrived later
        "/api/v1/history/sectors",
        params={"start": "2025-03-08T14:00", "end": "2025-03-08T15:00", "interval": "hour"},
        headers=staff,
    ).json()
    youth = next(s["points"] for s in body["sectors"] if s["sector"] == "youth")
    assert [(p["occupied"], p["available"]) for p in youth] == [(3, 17)]


def test_history_follows_the_newest_boot_and_seq_not_the_last_arrival(client, session, staff):
    check_late_arrival(client, staff, late_arrival(session))


def test_history_aggregates_the_same_on_postgres(postgres, settings, staff):
    url = postgres.new_database("history")
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            program_id = morning(session)
            sectors_scenario(session, program_id)
        with TestClient(create_app(settings, engine)) as client:
            check_hourly(hourly(client, staff, program_id))
            check_sectors(client, staff)
            with Session(engine) as session:
                late_program_id = late_arrival(session)
            check_late_arrival(client, staff, late_program_id)
    finally:
        engine.dispose()
