"""The city's own CSV, imported, replayed as readings and exported again, matches itself.

Real data (six nights of the city's 2024 file, tests/fixtures), five of them replayed: two in
a row (each export must take only its own night), a leap day, the night the clocks went
forward (its 4 AM count is at 08:00 UTC, not 09:00), and the last night.
"""

import csv
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, func, select

from server.exports import hsds
from server.exports.toronto_csv import COLUMNS, occupancy_csv, snapshot_time
from server.imports.city import import_file
from server.imports.profile import TORONTO
from server.models import CurrentState, Program, Reading, Role
from server.queries import sites
from server.settings import Settings
from tests.support.data import TORONTO_NIGHTS

NIGHTS = [
    date(2024, 1, 1),
    date(2024, 1, 2),
    date(2024, 2, 29),
    date(2024, 3, 9),
    date(2024, 3, 25),
]
COUNTS = [
    f"{measure}_{suffix}"
    for suffix in ("BED", "ROOM")
    for measure in ("CAPACITY_ACTUAL", "CAPACITY_FUNDING")
] + [
    f"{measure}_{suffix}"
    for suffix in ("BEDS", "ROOMS")
    for measure in ("OCCUPIED", "UNOCCUPIED", "UNAVAILABLE", "OCCUPANCY_RATE")
]


@pytest.fixture
def database(engine_each_database):
    with Session(engine_each_database) as session:
        yield session


@pytest.fixture(scope="module")
def original():
    path = TORONTO_NIGHTS
    with path.open(newline="", encoding="utf-8-sig") as f:
        return path, list(csv.DictReader(f))


def expected(row: dict) -> dict:
    """The city's counts as we can hold them: our capacity includes what is out of service,
    so where the city has more in service than funded (about 1 row in 15) we report the
    funding capacity as what is in service, with nothing unavailable."""
    counts = {column: row[column] for column in COUNTS}
    for one, many in (("BED", "BEDS"), ("ROOM", "ROOMS")):
        actual, funding = row[f"CAPACITY_ACTUAL_{one}"], row[f"CAPACITY_FUNDING_{one}"]
        if actual and int(funding) < int(actual):
            counts |= {f"CAPACITY_FUNDING_{one}": actual, f"UNAVAILABLE_{many}": "0"}
    return counts


def test_replayed_nights_export_the_citys_own_counts(database, original):
    path, rows = original
    report = import_file(database, path, TORONTO, history=True, nights=NIGHTS)
    database.commit()
    wanted = [r for r in rows if date.fromisoformat(r["OCCUPANCY_DATE"]) in NIGHTS]
    assert (report.rows, report.readings_added, report.errors) == (len(rows), len(wanted), [])

    for night in NIGHTS:
        ours = {
            r["PROGRAM_ID"]: r for r in csv.DictReader(occupancy_csv(database, night).splitlines())
        }
        theirs = {r["PROGRAM_ID"]: r for r in wanted if r["OCCUPANCY_DATE"] == night.isoformat()}
        assert ours.keys() == theirs.keys(), night
        for program_id, row in theirs.items():
            mine = ours[program_id]
            assert {c: mine[c] for c in COUNTS} == expected(row), (night, program_id)
            assert (mine["CAPACITY_TYPE"], mine["SECTOR"]) == (row["CAPACITY_TYPE"], row["SECTOR"])
    # Nights not replayed have no counts: a night's row never borrows another night's count.
    assert occupancy_csv(database, date(2024, 1, 3)).count("\n") == 1


def test_public_availability_is_the_citys_unoccupied_figure_every_night(session, original):
    """Night by night, each program's `available` (API and HSDS) is the city's UNOCCUPIED:
    the replay puts the unavailable beds on the reading and the program, never twice."""
    assert_available_is_unoccupied(session, *original)


@pytest.mark.long_data
def test_every_program_night_of_the_quarter_shows_the_citys_unoccupied(session, shared_dir):
    """The same, for each of the 85 nights of the whole 2024 Q1 file (make soak)."""
    path = shared_dir / QUARTER
    with path.open(newline="", encoding="utf-8-sig") as f:
        assert_available_is_unoccupied(session, path, list(csv.DictReader(f)))


def assert_available_is_unoccupied(session, path, rows) -> None:
    settings = Settings(_env_file=None)
    nights = sorted({r["OCCUPANCY_DATE"] for r in rows})
    for night in nights:
        import_file(session, path, TORONTO, history=True, nights={date.fromisoformat(night)})
        session.commit()
        city = {
            f"toronto:{r['PROGRAM_ID']}": int(r["UNOCCUPIED_BEDS"] or r["UNOCCUPIED_ROOMS"])
            for r in rows
            if r["OCCUPANCY_DATE"] == night
        }
        ours = {
            p.source_id: p.available
            for site in sites(session, settings, role=Role.admin)
            for p in site.programs
            if p.source_id in city
        }
        assert ours == city, night
        services = hsds.export(session, settings)["contents"]
        shown = {s["id"]: s["capacities"][0]["available"] for s in services if "capacities" in s}
        for source_id, free in city.items():
            service_id = hsds.stable_id("program", source_id)
            assert shown.get(service_id, free) == free, (night, source_id)
        assert len(set(shown) & {hsds.stable_id("program", k) for k in city}) > 100


def test_replaying_again_adds_nothing_and_current_state_is_the_last_night(database, original):
    path, rows = original
    import_file(database, path, TORONTO, history=True, nights=NIGHTS)
    database.commit()
    stored = database.exec(select(func.count()).select_from(Reading)).one()

    again = import_file(database, path, TORONTO, history=True, nights=NIGHTS)
    database.commit()

    assert (again.readings_added, again.readings_known) == (0, stored)
    assert database.exec(select(func.count()).select_from(Reading)).one() == stored
    last = next(r for r in rows if r["OCCUPANCY_DATE"] == "2024-03-25")
    program = database.exec(
        select(Program).where(Program.source_id == f"toronto:{last['PROGRAM_ID']}")
    ).one()
    current = database.get(CurrentState, program.id)
    assert current.updated_at == snapshot_time(date(2024, 3, 25))
    assert current.device_id is None


def test_a_replayed_night_never_hides_a_newer_live_count(session, site, tmp_path):
    program = session.exec(select(Program).where(Program.site_id == site.id)).one()
    program.source_id = "toronto:10"
    session.add(program)
    session.add(
        Reading(
            program_id=program.id, device_id="dial-01", boot=1, seq=5, channel=0, occupied=3,
            capacity=20, source="dial", received_at=datetime(2024, 6, 1, tzinfo=UTC),
        )
    )  # fmt: skip
    session.commit()
    live = session.exec(select(Reading)).one()
    session.add(
        CurrentState(
            program_id=program.id, reading_id=live.id, device_id="dial-01", boot=1, seq=5,
            occupied=3, capacity=20, updated_at=live.received_at,
        )
    )  # fmt: skip
    session.commit()
    path = tmp_path / "old.csv"
    _write(path, [_row(PROGRAM_ID="10", OCCUPANCY_DATE="2024-01-01", OCCUPIED_BEDS="19")])

    report = import_file(session, path, TORONTO, history=True)

    assert report.readings_added == 1
    current = session.get(CurrentState, program.id)
    assert (current.device_id, current.occupied) == ("dial-01", 3)


def test_rows_that_cannot_be_replayed_are_reported_by_line(session, tmp_path):
    path = tmp_path / "mixed.csv"
    _write(
        path,
        [
            _row(),
            _row(OCCUPANCY_DATE="01/02/2024"),
            _row(OCCUPIED_BEDS="21"),
            _row(OCCUPIED_BEDS="-1"),
            _row(OCCUPIED_BEDS="4.5"),
        ],
    )
    report = import_file(session, path, TORONTO, history=True)
    assert report.readings_added == 1
    assert report.errors == [
        (
            3,
            "OCCUPANCY_DATE '01/02/2024' is not a date (%Y-%m-%d or %Y-%m-%dT%H:%M:%S or %y-%m-%d)",
        ),
        (4, "OCCUPIED_BEDS 21 is above capacity 20"),
        (5, "OCCUPIED_BEDS is negative (-1)"),
        (6, "OCCUPIED_BEDS '4.5' is not a whole number"),
    ]


FORMATS = " or ".join(TORONTO.date_formats)
QUARTER = "datasets/toronto-occupancy-2024q1/daily-shelter-overnight-occupancy-2024q1.csv"


def _row(**values) -> dict:
    base = {
        "OCCUPANCY_DATE": "2024-01-01",
        "SHELTER_GROUP": "Group",
        "LOCATION_ID": "1",
        "LOCATION_NAME": "Maple House",
        "PROGRAM_ID": "10",
        "PROGRAM_NAME": "Men's beds",
        "SECTOR": "Men",
        "CAPACITY_TYPE": "Bed Based Capacity",
        "CAPACITY_ACTUAL_BED": "20",
        "CAPACITY_FUNDING_BED": "20",
        "OCCUPIED_BEDS": "18",
    }
    return dict.fromkeys(COLUMNS, "") | base | values


def _write(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
