"""Importing another city's CSV through a column-mapping file."""

import json

import pytest
from sqlmodel import select

from server.imports import mapping as mapping_file
from server.imports.toronto import COLUMNS, import_csv
from server.models import CapacityType, Program, Sector, Site

OTTAWA = """site_code,site,street,postcode,town,program_code,program,population,beds,in_use,day
7,Rideau House,1 Rideau St,K1N 5W8,Ottawa,70,Rideau Men,Adult men,30,28,2024-02-01
7,Rideau House,1 Rideau St,K1N 5W8,Ottawa,71,Rideau Women,Adult women,12,12,2024-02-01
8,Gatineau Place,2 Main St,J8X 1A1,Gatineau,80,Gatineau Youth,Youth,10,4,2024-02-01
9,Bad Row,3 Bank St,K1P 5N7,Ottawa,90,Bad Program,Seniors,10,4,2024-02-01
"""
MAPPING = {
    "source": "ottawa",
    "city": "Ottawa",
    "columns": {
        "LOCATION_ID": "site_code",
        "LOCATION_NAME": "site",
        "LOCATION_ADDRESS": "street",
        "LOCATION_POSTAL_CODE": "postcode",
        "LOCATION_CITY": "town",
        "PROGRAM_ID": "program_code",
        "PROGRAM_NAME": "program",
        "SECTOR": "population",
        "CAPACITY_ACTUAL_BED": "beds",
        "OCCUPIED_BEDS": "in_use",
        "OCCUPANCY_DATE": "day",
    },
    "constants": {"CAPACITY_TYPE": "Bed Based Capacity", "SHELTER_GROUP": "Ottawa shelters"},
    "values": {"SECTOR": {"Adult men": "Men", "Adult women": "Women"}},
}


@pytest.fixture
def files(tmp_path):
    data, rules = tmp_path / "ottawa.csv", tmp_path / "ottawa-mapping.json"
    data.write_text(OTTAWA)
    rules.write_text(json.dumps(MAPPING))
    return data, rules


def test_another_citys_csv_loads_through_its_mapping(session, files):
    data, rules = files
    report = import_csv(session, data, mapping=mapping_file.load(rules, COLUMNS))
    assert report.errors == [
        (5, "SECTOR 'Seniors' is not one of Men, Women, Youth, Families, Mixed Adult")
    ]
    assert report.warnings == [(4, "LOCATION_CITY is Gatineau, outside Ottawa")]
    programs = {p.source_id: p for p in session.exec(select(Program))}
    assert sorted(programs) == ["ottawa:70", "ottawa:71", "ottawa:80"]
    men = programs["ottawa:70"]
    assert (men.name, men.sector, men.capacity_type, men.capacity) == (
        "Rideau Men",
        Sector.men,
        CapacityType.beds,
        30,
    )
    site = session.exec(select(Site).where(Site.source_id == "ottawa:7")).one()
    assert (site.name, site.address, site.postal_code) == ("Rideau House", "1 Rideau St", "K1N 5W8")
    again = import_csv(session, data, mapping=mapping_file.load(rules, COLUMNS))
    assert (again.sites_added, again.programs_added) == (0, 0)


def test_the_command_takes_the_mapping(files, command):
    data, rules = files
    done = command("import", str(data), "--mapping", str(rules))
    assert done.returncode == 0, done.stderr
    assert "sites added 2; programs added 3" in done.stdout
    assert ":5: skipped: SECTOR 'Seniors'" in done.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "toronto"}, "source 'toronto'"),
        ({"source": "Ottawa City"}, "source 'Ottawa City'"),
        ({"colums": {}}, "unknown key 'colums'"),
        ({"columns": {"BEDS": "beds"}}, "columns.BEDS: not one of the city's columns"),
        ({"values": {"SECTOR": "Men"}}, "values.SECTOR must be a dict"),
    ],
)
def test_a_bad_mapping_is_refused_naming_what_is_wrong(tmp_path, change, message):
    rules = tmp_path / "bad.json"
    rules.write_text(json.dumps(MAPPING | change))
    with pytest.raises(ValueError, match=message):
        mapping_file.load(rules, COLUMNS)


def test_a_file_missing_a_mapped_column_is_refused(session, files):
    data, rules = files
    data.write_text(OTTAWA.replace("in_use", "used"))
    with pytest.raises(ValueError, match="not as the mapping says: missing in_use"):
        import_csv(session, data, mapping=mapping_file.load(rules, COLUMNS))
