"""`shelter-signal export`, run as an operator runs it: each format, to stdout or a file."""

import csv
import json
from datetime import date, timedelta

import pytest
from sqlmodel import select

from server.exports.toronto_csv import snapshot_time
from server.models import Program, Reading, Sector, Site

NIGHT = date(2024, 1, 15)


@pytest.fixture
def counted(session):
    """One site whose program was counted on NIGHT."""
    site = Site(name="Cedar House", organization="Cedar Society", lat=43.65, lon=-79.38)
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Cedar Men", sector=Sector.men, capacity=30)
    session.add(program)
    session.flush()
    session.add(
        Reading(
            program_id=program.id, boot=0, seq=1, channel=0, occupied=24, capacity=30,
            source="web", received_at=snapshot_time(NIGHT) - timedelta(hours=3),
        )
    )  # fmt: skip
    session.commit()


def test_the_toronto_csv_of_a_night_goes_to_a_file(counted, command, tmp_path):
    out = tmp_path / "night.csv"
    done = command("export", "--format", "toronto-csv", "--date", str(NIGHT), "-o", str(out))
    assert done.returncode == 0, done.stderr
    [row] = csv.DictReader(out.read_text().splitlines())
    assert (row["OCCUPANCY_DATE"], row["PROGRAM_NAME"], row["OCCUPIED_BEDS"]) == (
        "2024-01-15",
        "Cedar Men",
        "24",
    )


def test_hsds_goes_to_stdout(counted, command):
    done = command("export", "--format", "hsds")
    assert done.returncode == 0, done.stderr
    [service] = json.loads(done.stdout)["contents"]
    assert (service["name"], service["organization"]["name"]) == ("Cedar Men", "Cedar Society")


def test_a_date_for_another_format_or_a_night_not_yet_counted_is_refused(counted, command):
    wrong = command("export", "--format", "hsds", "--date", str(NIGHT))
    assert wrong.returncode == 1
    assert "--date and --until are for --format toronto-csv only" in wrong.stderr
    later = date.today() + timedelta(days=2)
    future = command("export", "--format", "toronto-csv", "--date", str(later))
    assert future.returncode == 1
    assert "Toronto time: still to come" in future.stderr


def test_a_range_of_nights_goes_to_one_file_in_one_run(counted, session, command, tmp_path):
    program = session.exec(select(Program)).one()
    session.add(
        Reading(
            program_id=program.id, boot=0, seq=2, channel=0, occupied=26, capacity=30,
            source="web", received_at=snapshot_time(NIGHT + timedelta(days=2)),
        )
    )  # fmt: skip
    session.commit()
    out = tmp_path / "nights.csv"
    last = NIGHT + timedelta(days=2)
    done = command(
        "export",
        "--format",
        "toronto-csv",
        "--date",
        str(NIGHT),
        "--until",
        str(last),
        "-o",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [(r["_id"], r["OCCUPANCY_DATE"], r["OCCUPIED_BEDS"]) for r in rows] == [
        ("1", "2024-01-15", "24"),
        ("2", "2024-01-17", "26"),
    ]
    backwards = command(
        "export", "--format", "toronto-csv", "--date", str(last), "--until", str(NIGHT)
    )
    assert backwards.returncode == 1 and "is before --date" in backwards.stderr
