"""Validation at the door, and defence in depth: a value the public shapes refuse is refused
at import with its row's real line, and one that gets stored anyway costs only its own row."""

import csv
import io
import json
import logging
import re

import pytest
from sqlmodel import select

from server.exports.toronto_csv import COLUMNS
from server.imports.city import import_file
from server.imports.files import load_centroids, load_locations
from server.imports.profile import TORONTO
from server.models import CurrentState, Program, Reading, Sector, Site, utcnow
from tests.support.data import toronto_row as row

PUBLIC = [
    "/api/v1/shelters",
    "/api/v1/summary",
    "/api/v1/exports/hsds.json",
    "/api/v1/exports/shelters.geojson",
    "/",
]
BIG = "x" * 200_000  # over the csv module's 128 KiB field limit


def write(path, rows) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


@pytest.fixture
def refused(tmp_path):
    """A file whose first row spans three lines (an address with line breaks), then a
    capacity of 20000, an over-long postal code and a 200 KB field, then a good row."""
    path = tmp_path / "city.csv"
    write(
        path,
        [
            row(LOCATION_ADDRESS="1 King St\nUnit 4\nBack door"),  # lines 2-4
            row(LOCATION_ID="2", PROGRAM_ID="20", CAPACITY_ACTUAL_BED="20000"),  # line 5
            row(LOCATION_ID="3", PROGRAM_ID="30", LOCATION_POSTAL_CODE="M5V 1A1 CANADA 12"),
            row(LOCATION_ID="4", PROGRAM_ID="40", PROGRAM_NAME=BIG),  # line 7
            row(LOCATION_ID="5", PROGRAM_ID="50", LOCATION_NAME="Elm House"),  # line 8
        ],
    )
    return path


def test_values_the_public_shapes_refuse_are_refused_with_their_line(refused, command, client):
    done = command("import", str(refused))
    assert done.returncode == 2  # loaded, but not everything
    assert ":5: skipped: CAPACITY_ACTUAL_BED (20000): input should be less than or equal to " in (
        done.stderr
    )
    assert ":6: skipped: LOCATION_POSTAL_CODE (17 characters): string should have at most 16" in (
        done.stderr
    )
    assert ":7: skipped: unreadable: field larger than field limit (131072)" in done.stderr
    assert "Traceback" not in done.stderr
    for url in PUBLIC:
        assert client.get(url).status_code == 200, url
    names = {s["name"] for s in client.get("/api/v1/shelters").json()["items"]}
    assert names == {"Cedar House", "Elm House"}


def test_a_replayed_capacity_over_the_limit_is_refused_too(session, tmp_path):
    path = tmp_path / "night.csv"
    write(path, [row(CAPACITY_FUNDING_BED="20000")])
    report = import_file(session, path, TORONTO, history=True)
    assert report.errors == [(2, "CAPACITY_FUNDING_BED 20000 is above 10000")]


@pytest.fixture
def stored_badly(session):
    """Values a writer other than the import stored unchecked: a site with a postal code
    over 16 characters, a program counted against a capacity of 20000; and a good site."""
    bad_site = Site(name="Bad Place", postal_code="M" * 40, lat=43.7, lon=-79.4)
    good = Site(name="Good Place", lat=43.7, lon=-79.4)
    session.add_all([bad_site, good])
    session.flush()
    programs = [
        Program(site_id=bad_site.id, name="Bad beds", sector=Sector.men, capacity=10),
        Program(site_id=good.id, name="Big beds", sector=Sector.men, capacity=10),
        Program(site_id=good.id, name="Good beds", sector=Sector.women, capacity=10),
    ]
    session.add_all(programs)
    session.flush()
    for n, (program, capacity) in enumerate(zip(programs, (10, 20000, 10), strict=True)):
        reading = Reading(
            program_id=program.id, boot=1, seq=n, channel=0, occupied=4, capacity=capacity,
            source="web", received_at=utcnow(),
        )  # fmt: skip
        session.add(reading)
        session.flush()
        session.add(
            CurrentState(
                program_id=program.id, reading_id=reading.id, boot=1, seq=n, occupied=4,
                capacity=capacity, updated_at=reading.received_at,
            )
        )  # fmt: skip
    session.commit()


def test_a_stored_value_the_public_shapes_refuse_costs_only_its_own_row(
    stored_badly, client, caplog
):
    with caplog.at_level(logging.ERROR, logger="server.queries"):
        for url in PUBLIC:
            assert client.get(url).status_code == 200, url
    [good] = client.get("/api/v1/shelters").json()["items"]
    assert (good["name"], [p["name"] for p in good["programs"]]) == ("Good Place", ["Good beds"])
    hsds = client.get("/api/v1/exports/hsds.json").json()
    assert [s["name"] for s in hsds["contents"]] == ["Good beds"]
    assert client.get("/api/v1/summary").json()["total"]["capacity"] == 10
    logged = caplog.text
    assert "left out of the answer" in logged and "postal_code" in logged
    assert "capacity" in logged and "M" * 40 not in logged


def test_an_export_that_fails_leaves_the_last_good_file(stored_badly, command, tmp_path):
    out = tmp_path / "shelters.geojson"
    assert command("export", "-o", str(out)).returncode == 0
    good = out.read_text()
    assert [f["properties"]["name"] for f in json.loads(good)["features"]] == ["Good Place"]
    failed = command("export", "--format", "toronto-csv", "--date", "2999-01-01", "-o", str(out))
    assert failed.returncode == 1 and "still to come" in failed.stderr
    assert out.read_text() == good
    fresh = tmp_path / "never.csv"
    command("export", "--format", "toronto-csv", "--date", "2999-01-01", "-o", str(fresh))
    assert not fresh.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("loader", "content", "message"),
    [
        (load_locations, "[1, 2]", "not a GeoJSON FeatureCollection"),
        (load_locations, '{"features": [{"geometry": null}]}', "feature 0 needs a Point"),
        (load_centroids, "code,lat\nM5V,43\n", "not postal-area centres: missing column(s)"),
        (load_centroids, "Postalcode,Latitude,Longitude\nM5V,north,-79\n", ":2: could not"),
    ],
)
def test_a_places_file_of_the_wrong_shape_is_named(tmp_path, loader, content, message):
    places = tmp_path / "places"
    places.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        loader(places)


def test_places_are_checked_before_the_csv_is_read(tmp_path, command):
    places = tmp_path / "places.geojson"
    places.write_text("[1, 2]")
    done = command("import", str(tmp_path / "no-such.csv"), "--locations", str(places))
    assert done.returncode == 1
    assert "not a GeoJSON FeatureCollection" in done.stderr and "Traceback" not in done.stderr


def test_an_encoding_error_names_its_line(tmp_path, command):
    path = tmp_path / "latin1.csv"
    write(path, [row(), row(PROGRAM_ID="11", LOCATION_NAME="Café")])
    path.write_bytes(path.read_bytes().replace("é".encode(), "é".encode("latin-1")))
    done = command("import", str(path))
    assert done.returncode == 1
    assert f"{path}:3: not UTF-8 (byte 0xe9 at column " in done.stderr


def test_a_site_with_an_address_but_no_name_is_public(session, tmp_path):
    path = tmp_path / "warming.csv"
    write(path, [row(LOCATION_NAME="", SHELTER_GROUP="Warming centres")])
    report = import_file(session, path, TORONTO)
    site = session.exec(select(Site)).one()
    assert (site.name, site.address, site.confidential) == ("Warming centres", "1 King St", False)
    assert report.warnings == []
    write(path, [row(LOCATION_NAME="", LOCATION_ADDRESS="", SHELTER_GROUP="Safe")])
    import_file(session, path, TORONTO)
    session.refresh(site)
    assert (site.name, site.address, site.confidential) == ("Safe", None, True)
