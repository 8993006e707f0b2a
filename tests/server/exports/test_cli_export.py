"""`shelter-signal export`, run as an operator runs it: each format, to stdout or a file."""

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlmodel import Session

from server.db import make_engine, migrate
from server.exports.toronto_csv import snapshot_time
from server.models import Program, Reading, Sector, Site

NIGHT = date(2024, 1, 15)


@pytest.fixture
def env(tmp_path):
    """A database with one site whose program was counted on NIGHT."""
    url = f"sqlite:///{tmp_path / 'export.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
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
    engine.dispose()
    return {**os.environ, "SIGNAL_DATABASE_URL": url}


def export(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "server", "export", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_toronto_csv_of_a_night_goes_to_a_file(env, tmp_path):
    out = tmp_path / "night.csv"
    done = export(env, "--format", "toronto-csv", "--date", str(NIGHT), "-o", str(out))
    assert done.returncode == 0, done.stderr
    [row] = csv.DictReader(out.read_text().splitlines())
    assert (row["OCCUPANCY_DATE"], row["PROGRAM_NAME"], row["OCCUPIED_BEDS"]) == (
        "2024-01-15",
        "Cedar Men",
        "24",
    )


def test_hsds_goes_to_stdout(env):
    done = export(env, "--format", "hsds")
    assert done.returncode == 0, done.stderr
    [service] = json.loads(done.stdout)["contents"]
    assert (service["name"], service["organization"]["name"]) == ("Cedar Men", "Cedar Society")


def test_a_date_for_another_format_or_a_night_not_yet_counted_is_refused(env):
    wrong = export(env, "--format", "hsds", "--date", str(NIGHT))
    assert wrong.returncode == 1
    assert "--date is for --format toronto-csv only" in wrong.stderr
    future = export(env, "--format", "toronto-csv", "--date", str(date.today() + timedelta(2)))
    assert future.returncode == 1
    assert "Toronto time: still to come" in future.stderr
