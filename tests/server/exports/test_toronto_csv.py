"""The City of Toronto's occupancy CSV: the 4 AM snapshot, the city's formats, privacy."""

import csv
from datetime import UTC, date, datetime, timedelta

import pytest

from server.exports.toronto_csv import (
    COLUMNS,
    check_counted,
    latest_date,
    occupancy_csv,
    rate,
    rows,
    snapshot_time,
)
from server.models import CapacityType, Program, Reading, Sector, Site

NIGHT = date(2024, 1, 15)
SNAPSHOT = datetime(2024, 1, 16, 9, 0, tzinfo=UTC)  # 04:00 EST (UTC-5) the morning after


@pytest.mark.parametrize(
    ("night", "taken"),
    [
        (NIGHT, SNAPSHOT),
        # Clocks went forward at 02:00 on 2024-03-10: 04:00 that morning is EDT, UTC-4.
        (date(2024, 3, 9), datetime(2024, 3, 10, 8, 0, tzinfo=UTC)),
        # Clocks went back at 02:00 on 2024-11-03: 04:00 that morning is EST again.
        (date(2024, 11, 2), datetime(2024, 11, 3, 9, 0, tzinfo=UTC)),
    ],
)
def test_the_count_of_a_night_is_taken_at_4_am_toronto_time_the_next_morning(night, taken):
    assert snapshot_time(night) == taken


def test_the_newest_date_is_the_last_one_already_counted():
    assert latest_date(SNAPSHOT - timedelta(minutes=1)) == NIGHT - timedelta(days=1)
    assert latest_date(SNAPSHOT) == NIGHT
    check_counted(NIGHT, SNAPSHOT)
    with pytest.raises(ValueError, match="2024-01-16 04:00 Toronto time: still to come"):
        check_counted(NIGHT, SNAPSHOT - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("occupied", "capacity", "text"),
    [
        (100, 100, "100"),
        (191, 200, "95.5"),
        (1, 3, "33.33"),
        (2, 3, "66.67"),
        (1, 32, "3.13"),  # 3.125: half up, as arithmetic rounds, not to even
        (0, 12, "0"),
        (21, 20, "105"),  # over capacity stays visible, as in the city's family sector
        (0, 0, ""),  # nothing in service: no rate
    ],
)
def test_occupancy_rate_is_written_as_the_city_writes_it(occupied, capacity, text):
    assert rate(occupied, capacity) == text


@pytest.fixture
def city(session):
    """A city-numbered site with a bed and a room program, one of our own, one confidential."""
    cedar = Site(
        source_id="toronto:1320",
        name="Cedar House",
        address="640 Dixon Rd.",
        city="Toronto",
        postal_code="M9W 1J1",
        organization="Cedar Society",
    )
    own = Site(name="Alder Place", address="2 Queen St E", organization="Alder Trust")
    hidden = Site(
        source_id="toronto:1280",
        name="Safe Haven",
        address="9 Secret St",
        organization="Women's Hostels",
        confidential=True,
    )
    session.add_all([cedar, own, hidden])
    session.flush()
    programs = {
        "beds": Program(
            source_id="toronto:16892", site_id=cedar.id, name="Cedar Men", sector=Sector.men,
            capacity=40,
        ),
        "rooms": Program(
            source_id="toronto:16891", site_id=cedar.id, name="Cedar Families",
            sector=Sector.families, capacity_type=CapacityType.rooms, capacity=30,
        ),
        "own": Program(site_id=own.id, name="Alder Youth", sector=Sector.youth, capacity=10),
        "hidden": Program(
            source_id="toronto:12051", site_id=hidden.id, name="Haven Women",
            sector=Sector.women, capacity=12,
        ),
        "quiet": Program(site_id=own.id, name="Alder Mixed", sector=Sector.mixed, capacity=8),
    }  # fmt: skip
    session.add_all(programs.values())
    session.commit()
    return programs


def count(session, program, occupied, at, capacity=None, out_of_service=0):
    session.add(
        Reading(
            program_id=program.id,
            device_id=None,
            boot=0,
            seq=int(at.timestamp()),
            channel=0,
            occupied=occupied,
            capacity=program.capacity if capacity is None else capacity,
            out_of_service=out_of_service,
            source="web",
            received_at=at,
        )
    )
    session.commit()


def test_each_program_gets_its_last_count_of_the_night_in_the_citys_columns(session, city):
    day_before = SNAPSHOT - timedelta(days=1)
    count(session, city["beds"], 30, SNAPSHOT - timedelta(hours=5))
    count(session, city["beds"], 35, SNAPSHOT, out_of_service=2)  # exactly at 4 AM: counts
    count(session, city["beds"], 1, SNAPSHOT + timedelta(seconds=1))  # the next night's
    count(session, city["rooms"], 27, SNAPSHOT - timedelta(hours=1), out_of_service=1)
    count(session, city["own"], 10, day_before + timedelta(minutes=1))
    count(session, city["hidden"], 11, SNAPSHOT - timedelta(hours=2))
    count(session, city["quiet"], 5, day_before)  # the night before's 4 AM count: not this one

    found = rows(session, NIGHT)

    assert [r["PROGRAM_NAME"] for r in found] == [
        "Alder Youth",  # by organization, then location, then program name
        "Cedar Families",
        "Cedar Men",
        "Haven Women",
    ]
    assert [r["_id"] for r in found] == [1, 2, 3, 4]
    blank = dict.fromkeys(COLUMNS, "")
    assert found[2] == blank | {
        "_id": 3,
        "OCCUPANCY_DATE": "2024-01-15",
        "ORGANIZATION_NAME": "Cedar Society",
        "LOCATION_ID": "1320",
        "LOCATION_NAME": "Cedar House",
        "LOCATION_ADDRESS": "640 Dixon Rd.",
        "LOCATION_POSTAL_CODE": "M9W 1J1",
        "LOCATION_CITY": "Toronto",
        "LOCATION_PROVINCE": "ON",
        "PROGRAM_ID": "16892",
        "PROGRAM_NAME": "Cedar Men",
        "SECTOR": "Men",
        "SERVICE_USER_COUNT": 35,
        "CAPACITY_TYPE": "Bed Based Capacity",
        "CAPACITY_ACTUAL_BED": 38,
        "CAPACITY_FUNDING_BED": 40,
        "OCCUPIED_BEDS": 35,
        "UNOCCUPIED_BEDS": 3,
        "UNAVAILABLE_BEDS": 2,
        "OCCUPANCY_RATE_BEDS": "92.11",
    }
    rooms = found[1]
    assert {c: rooms[c] for c in COLUMNS if c.endswith(("_ROOM", "_ROOMS"))} == {
        "CAPACITY_ACTUAL_ROOM": 29,
        "CAPACITY_FUNDING_ROOM": 30,
        "OCCUPIED_ROOMS": 27,
        "UNOCCUPIED_ROOMS": 2,
        "UNAVAILABLE_ROOMS": 1,
        "OCCUPANCY_RATE_ROOMS": "93.1",
    }
    assert all(rooms[c] == "" for c in COLUMNS if c.endswith(("_BED", "_BEDS")))
    assert rooms["SERVICE_USER_COUNT"] == ""  # a room holds a household of unknown size
    # Not numbered by the city: no city ids rather than ours in the city's id columns.
    assert (found[0]["LOCATION_ID"], found[0]["PROGRAM_ID"]) == ("", "")


def test_a_confidential_site_keeps_its_counts_but_not_its_location_as_the_city_does(session, city):
    count(session, city["hidden"], 11, SNAPSHOT - timedelta(hours=2))
    [row] = rows(session, NIGHT)
    assert (row["LOCATION_ID"], row["PROGRAM_ID"], row["OCCUPIED_BEDS"]) == ("1280", "12051", 11)
    for column in ("LOCATION_NAME", "LOCATION_ADDRESS", "LOCATION_POSTAL_CODE", "LOCATION_CITY"):
        assert row[column] == ""
    assert "Safe Haven" not in occupancy_csv(session, NIGHT)
    assert "Secret" not in occupancy_csv(session, NIGHT)


def test_the_file_has_the_citys_header_and_reads_back_as_csv(session, city):
    count(session, city["beds"], 30, SNAPSHOT)
    text = occupancy_csv(session, NIGHT)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "\r" not in text  # the city's file ends lines with LF only
    [row] = csv.DictReader(text.splitlines())
    assert (row["OCCUPIED_BEDS"], row["CAPACITY_ACTUAL_BED"], row["OCCUPANCY_RATE_BEDS"]) == (
        "30",
        "40",
        "75",
    )


def test_a_night_without_counts_is_just_the_header(session, city):
    assert occupancy_csv(session, NIGHT) == ",".join(COLUMNS) + "\n"
