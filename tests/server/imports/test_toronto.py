"""Importing the City of Toronto's occupancy CSV: real data, bad rows, idempotency, privacy."""

import csv
import json
from datetime import date

import pytest
from sqlmodel import select

from server.exports.toronto_csv import COLUMNS
from server.imports.city import import_file
from server.imports.profile import TORONTO
from server.models import Program, Reading, Site
from tests.support.data import TORONTO_NIGHTS
from tests.support.data import toronto_row as row

QUARTER = "datasets/toronto-occupancy-2024q1/daily-shelter-overnight-occupancy-2024q1.csv"


def _ids(path, column) -> set[str]:
    """The values of `column` in the rows that name their location (not confidential)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return {r[column] for r in csv.DictReader(f) if r["LOCATION_NAME"]}


@pytest.fixture
def places(tmp_path):
    """Invented coordinates for the six nights' public sites: a point for every one but the
    first, which is placed by its postal area; a postal area for every code seen."""
    locations = sorted(_ids(TORONTO_NIGHTS, "LOCATION_ID"), key=int)
    areas = sorted({code[:3] for code in _ids(TORONTO_NIGHTS, "LOCATION_POSTAL_CODE") if code})
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-79.4 + n / 1000, 43.7]},
            "properties": {"id": [int(location)]},
        }
        for n, location in enumerate(locations[1:])
    ]
    geojson = tmp_path / "places.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    centroids = tmp_path / "areas.csv"
    centroids.write_text(
        "Postalcode,Latitude,Longitude\n" + "".join(f"{a},43.65,-79.38\n" for a in areas)
    )
    return geojson, centroids


def test_real_nights_load_every_program_once_and_again_idempotently(session, places):
    first = import_file(session, TORONTO_NIGHTS, TORONTO, None, *places)
    assert (first.rows, first.errors) == (816, [])
    assert (first.sites_added, first.programs_added) == (105, 143)  # the file's distinct ids
    again = import_file(session, TORONTO_NIGHTS, TORONTO, None, *places)
    assert (again.sites_added, again.programs_added, again.programs_updated) == (0, 0, 0)
    assert len(session.exec(select(Program)).all()) == 143
    hidden = session.exec(select(Site).where(Site.confidential)).all()
    assert first.unplaced == [] and all(s.lat is None for s in hidden)
    assert session.exec(select(Site).where(Site.lat == 43.65)).all()  # by postal area


@pytest.mark.long_data
def test_the_real_quarter_loads_every_program_once(session, shared_dir):
    """The whole quarter, with the geocoded points and postal areas of ../shared."""
    locations = shared_dir / "datasets/toronto-locations/shelters.geojson"
    centroids = shared_dir / "datasets/toronto-fsa-centroids/Geospatial_Coordinates.csv"
    first = import_file(session, shared_dir / QUARTER, TORONTO, None, locations, centroids)
    assert (first.rows, first.errors) == (11459, [])
    assert (first.sites_added, first.programs_added) == (105, 143)  # SOURCE.txt: 105 / 143 ids
    placed = session.exec(select(Site).where(Site.lat.is_not(None))).all()
    assert all(43.5 < s.lat < 43.9 and -79.7 < s.lon < -79.1 for s in placed)
    assert len(first.unplaced) < 5


def test_sites_whose_location_the_city_withholds_become_confidential(session):
    import_file(session, TORONTO_NIGHTS, TORONTO)
    hidden = session.exec(select(Site).where(Site.confidential)).all()
    assert hidden and all(s.address is None and s.lat is None for s in hidden)


HEADER = COLUMNS


def test_bad_rows_are_reported_by_line_and_good_rows_still_load(session, tmp_path):
    path = tmp_path / "mixed.csv"
    rows = [
        row(),
        row(PROGRAM_ID=""),
        row(PROGRAM_ID="11", OCCUPIED_BEDS="-2"),
        row(LOCATION_ID="2.5", PROGRAM_ID="12"),
        row(PROGRAM_ID="13", SECTOR="Seniors"),
        row(LOCATION_ID="3", PROGRAM_ID="14", LOCATION_POSTAL_CODE=""),
        row(LOCATION_ID="4", PROGRAM_ID="15", LOCATION_CITY="Vaughan"),
    ]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    report = import_file(session, path, TORONTO)
    assert report.errors == [
        (3, "PROGRAM_ID is missing"),
        (4, "OCCUPIED_BEDS is negative (-2)"),
        (5, "LOCATION_ID '2.5' is not a whole number"),
        (6, "SECTOR 'Seniors' is not one of Men, Women, Youth, Families, Mixed Adult"),
    ]
    assert report.warnings == [
        (7, "LOCATION_POSTAL_CODE is blank"),
        (8, "LOCATION_CITY is Vaughan, outside Toronto"),
    ]
    loaded = sorted(p.source_id for p in session.exec(select(Program)))
    assert loaded == ["toronto:10", "toronto:14", "toronto:15"]
    assert sorted(report.unplaced) == ["Cedar House", "Cedar House", "Cedar House"]


def test_a_reimport_that_changes_a_site_stamps_its_edit_time(session, tmp_path):
    """The event stream and the cached lists notice edits by this stamp (as admin edits)."""
    path = tmp_path / "day.csv"

    def write(**values):
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, HEADER)
            writer.writeheader()
            writer.writerows([row(**values), row(LOCATION_ID="3", PROGRAM_ID="14")])

    write()
    import_file(session, path, TORONTO)
    assert [s.edited_at for s in session.exec(select(Site))] == [None, None]
    write(LOCATION_ADDRESS="12 New Street")
    import_file(session, path, TORONTO)
    edited = {s.source_id: s.edited_at for s in session.exec(select(Site))}
    assert edited["toronto:3"] is None  # unchanged
    assert edited["toronto:1"] is not None
    write(LOCATION_ADDRESS="12 New Street", CAPACITY_ACTUAL_BED="30")  # a program's change
    before = edited["toronto:1"]
    import_file(session, path, TORONTO)
    assert session.exec(select(Site).where(Site.source_id == "toronto:1")).one().edited_at > before


def test_a_file_in_another_format_is_refused_with_the_missing_columns(session, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("name,beds\nCedar,10\n")
    with pytest.raises(
        ValueError, match=r"not as the profile says: missing column\(s\) LOCATION_ID"
    ):
        import_file(session, path, TORONTO)


def test_dates_with_a_time_or_a_two_digit_year_are_the_same_nights(session, tmp_path):
    path = tmp_path / "dates.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, HEADER)
        writer.writeheader()
        writer.writerows(
            [row(OCCUPANCY_DATE="24-01-01"), row(OCCUPANCY_DATE="2024-01-02T00:00:00")]
        )
    report = import_file(session, path, TORONTO, history=True)
    assert (report.errors, report.readings_added) == ([], 2)
    nights = sorted(r.seq for r in session.exec(select(Reading)))
    assert nights == [date(2024, 1, 1).toordinal(), date(2024, 1, 2).toordinal()]
