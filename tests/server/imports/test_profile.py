"""City profiles: another city's file through its profile, Toronto's 2023 file through the
shipped one, bad profiles named by key, and the command's dry run, limits and summary."""

import csv
import io
import json

import pytest
from sqlmodel import func, select

from server.imports.city import Report, import_file
from server.imports.profile import TORONTO, ProfileError, load
from server.models import CapacityType, Program, Reading, Sector, Site
from tests.support.data import TORONTO_NIGHTS

OTTAWA = """site_code,site,street,postcode,town,program_code,program,population,beds,in_use,day
7,Rideau House,1 Rideau St,K1N 5W8,Ottawa,70,Rideau Men,Adult men,30,28,2024-02-01
7,Rideau House,1 Rideau St,K1N 5W8,Ottawa,71,Rideau Women,Adult women,12,12,2024-02-01
8,Vanier Place,2 Main St,K1L 1A1,Vanier,80,Vanier Youth,Youth,10,4,2024-02-01
9,Gatineau Place,3 Main St,J8X 1A1,Gatineau,90,Gatineau Men,Adult men,10,4,2024-02-01
9,Bad Row,3 Bank St,K1P 5N7,Ottawa,91,Bad Program,Seniors,10,4,2024-02-01
"""
PROFILE = """
source = "ottawa"
region = "Ottawa"
municipalities = ["Ottawa", "Vanier"]
timezone = "America/Toronto"

[keys]
site = ["site_code"]
program = ["program_code"]

[columns]
date = "day"
site_name = ["site"]
address = "street"
postal_code = "postcode"
city = "town"
program_name = ["program"]
sector = "population"

[constants]
unit = "beds"

[units.beds]
capacity = "beds"
occupied = "in_use"

[values.sector]
"Adult men" = "men"
"Adult women" = "women"
"Youth" = "youth"
"""


@pytest.fixture
def ottawa(tmp_path):
    data, profile = tmp_path / "ottawa.csv", tmp_path / "ottawa.toml"
    data.write_text(OTTAWA)
    profile.write_text(PROFILE)
    return data, profile


def test_another_citys_file_loads_through_its_profile(session, ottawa):
    data, profile = ottawa
    report = import_file(session, data, load(profile), history=True)
    session.commit()
    assert report.errors == [
        (6, "population 'Seniors' is not one of Adult men, Adult women, Youth")
    ]
    assert report.warnings == [(5, "town is Gatineau, outside Ottawa")]  # Vanier is home
    programs = {p.source_id: p for p in session.exec(select(Program))}
    assert sorted(programs) == ["ottawa:70", "ottawa:71", "ottawa:80", "ottawa:90"]
    men = programs["ottawa:70"]
    assert (men.name, men.sector, men.capacity_type, men.capacity) == (
        "Rideau Men",
        Sector.men,
        CapacityType.beds,
        30,
    )
    site = session.exec(select(Site).where(Site.source_id == "ottawa:7")).one()
    assert (site.name, site.address, site.postal_code) == ("Rideau House", "1 Rideau St", "K1N 5W8")
    assert report.readings_added == 4
    again = import_file(session, data, load(profile), history=True)
    assert (again.sites_added, again.programs_added, again.programs_updated) == (0, 0, 0)
    assert (again.readings_added, again.readings_known) == (0, 4)


def _nights_2023_style() -> str:
    """The six nights as the city wrote its 2023 file: every id and count as 1320.0."""
    with TORONTO_NIGHTS.open(newline="") as f:
        rows = list(csv.DictReader(f))
    numbers = ("_ID", "LOCATION_ID", "PROGRAM_ID", "ORGANIZATION_ID", "SHELTER_ID")
    for row in rows:
        for column, value in row.items():
            counts = column.startswith(("CAPACITY_", "OCCUPIED_", "UNOCCUPIED_", "UNAVAILABLE_"))
            if value.isdigit() and (counts or column.upper() in numbers):
                row[column] = f"{value}.0"
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_torontos_2023_style_file_imports_with_its_history_and_no_false_warnings(session, tmp_path):
    path = tmp_path / "2023.csv"
    path.write_text(_nights_2023_style())
    assert "1320.0" in path.read_text()
    report = import_file(session, path, TORONTO, history=True)
    session.commit()
    assert (report.rows, report.errors) == (816, [])
    assert (report.sites_added, report.programs_added, report.readings_added) == (105, 143, 816)
    outside = {reason for _line, reason in report.warnings if "outside" in reason}
    assert outside == {"LOCATION_CITY is Vaughan, outside Toronto"}  # North York etc. are home
    assert session.exec(select(Site).where(Site.source_id == "toronto:1320")).one()


def _changed(change: str) -> str:
    """PROFILE with a table added, or a top-level key set (before the first table)."""
    if change.startswith("["):
        return f"{PROFILE}\n{change}\n"
    key = change.split(" ")[0]
    lines = [line for line in PROFILE.splitlines() if not line.startswith(f"{key} ")]
    first = lines.index("[keys]")
    return "\n".join([*lines[:first], change, *lines[first:]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('source = "Ottawa City"', "source: 'Ottawa City' must be a short name"),
        ("colums = {}", "colums: unknown key"),
        ('[keys.extra]\nx = "y"', "keys.extra: unknown key"),
        ("decimals = 1", "decimals: must be a bool"),
        ('[units.cots]\ncapacity = "beds"', "units.cots: unknown key"),
        ('timezone = "Ottawa"', "timezone: unknown time zone 'Ottawa'"),
        ('over_capacity = "maybe"', "over_capacity: one of refuse, keep"),
        ('[coordinates]\nlat = "y"', "coordinates: give both lat and lon"),
        ('[[filter]]\ncolumn = "town"', "filter[0]: give a column and one of keep or drop"),
        ('[[split]]\nname = "Men"\nsector = "boys"\ncapacity = "m"', "split[0].sector: 'boys'"),
    ],
)
def test_a_bad_profile_is_refused_naming_the_key(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(_changed(change))
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(path)


def test_a_bad_value_table_and_missing_keys_are_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(PROFILE.replace('"Youth" = "youth"', '"Youth" = "kids"'))
    with pytest.raises(ProfileError, match=r"values.sector.Youth: 'kids' is not one of"):
        load(path)
    path.write_text(PROFILE.replace('site = ["site_code"]', ""))
    with pytest.raises(ProfileError, match=r"keys\.site: name the column"):
        load(path)
    path.write_text(PROFILE.replace('address = "street"', 'address = "sites.street"'))
    with pytest.raises(ProfileError, match=r"sites\.key: columns named sites"):
        load(path)


def test_the_command_checks_reports_by_reason_and_saves_all_or_nothing(ottawa, command, session):
    data, profile = ottawa
    data.write_text(OTTAWA + "9,Bad Two,3 Bank St,K1P 5N7,Ottawa,92,Bad,Seniors,10,4,2024-02-01\n")

    dry = command("import", str(data), "--profile", str(profile), "--history", "--dry-run")
    assert dry.returncode == 2, dry.stderr
    assert "dry run: nothing saved" in dry.stdout
    assert session.exec(select(func.count()).select_from(Site)).one() == 0

    limited = command("import", str(data), "--profile", str(profile), "--max-errors", "1")
    assert limited.returncode == 1
    assert "more than 1 rows refused: nothing imported" in limited.stderr
    assert session.exec(select(func.count()).select_from(Program)).one() == 0

    done = command("import", str(data), "--profile", str(profile), "--history")
    assert done.returncode == 2  # rows were refused
    assert ":6: skipped: population 'Seniors' is not one of" in done.stderr
    assert ":7: skipped: population 'Seniors' is not one of" in done.stderr
    assert "6 rows: 2 skipped" in done.stdout and "readings added 4" in done.stdout
    assert session.exec(select(func.count()).select_from(Reading)).one() == 4

    allowed = command("import", str(data), "--profile", str(profile), "--allow-refused")
    assert allowed.returncode == 0
    missing = command("import", str(data), "--profile", str(data.with_suffix(".nope.toml")))
    assert missing.returncode == 1 and "cannot read the profile" in missing.stderr


def test_the_summary_groups_reasons_whatever_their_values():
    report = Report(errors=[(n, f"SECTOR 'S{n}' is not one of Men") for n in range(2, 12)])
    report.errors.append((12, "PROGRAM_ID is negative (-1)"))
    assert report.by_reason(report.errors) == [
        ("SECTOR '…' is not one of Men", 10, [2, 3, 4, 5, 6]),
        ("PROGRAM_ID is negative (N)", 1, [12]),
    ]


def test_a_stated_default_and_places_joined_by_address(session, ottawa, tmp_path):
    data, profile = ottawa
    profile.write_text(PROFILE + '\n[defaults]\nsector = "mixed"\n')
    places = tmp_path / "places.geojson"
    point = {"type": "Point", "coordinates": [-75.69, 45.43]}
    feature = {
        "type": "Feature",
        "geometry": point,
        "properties": {"id": [], "address": "2 Main St"},
    }
    places.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    report = import_file(session, data, load(profile), locations=places)
    assert report.errors == []  # the word the table does not know takes the stated default
    bad = session.exec(select(Program).where(Program.source_id == "ottawa:91")).one()
    assert bad.sector == Sector.mixed
    site = session.exec(select(Site).where(Site.source_id == "ottawa:8")).one()
    assert (site.address, site.lat, site.lon) == ("2 Main St", 45.43, -75.69)
