"""Sites and programs from the City of Toronto's daily shelter occupancy CSV (32 columns).

One row is one program on one night; a location runs several programs. The newest row of
each program sets its name, sector and capacity. Rows that cannot be trusted are reported
with their line number and left out; rows with a gap we can live with (no postal code, a
place outside Toronto) load with a warning. Re-importing updates in place (keys are the
city's LOCATION_ID and PROGRAM_ID), so it is idempotent.

Data: City of Toronto Open Data, "Daily Shelter & Overnight Service Occupancy & Capacity",
Open Government Licence - Toronto.
"""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from server.imports.mapping import TORONTO, Mapping
from server.models import CapacityType, Program, Sector, Site, utcnow

# The city's 32 columns, in order (the 2021+ format of the open data set).
COLUMNS = (
    "_id", "OCCUPANCY_DATE", "ORGANIZATION_ID", "ORGANIZATION_NAME", "SHELTER_ID",
    "SHELTER_GROUP", "LOCATION_ID", "LOCATION_NAME", "LOCATION_ADDRESS", "LOCATION_POSTAL_CODE",
    "LOCATION_CITY", "LOCATION_PROVINCE", "PROGRAM_ID", "PROGRAM_NAME", "SECTOR",
    "PROGRAM_MODEL", "OVERNIGHT_SERVICE_TYPE", "PROGRAM_AREA", "SERVICE_USER_COUNT",
    "CAPACITY_TYPE", "CAPACITY_ACTUAL_BED", "CAPACITY_FUNDING_BED", "OCCUPIED_BEDS",
    "UNOCCUPIED_BEDS", "UNAVAILABLE_BEDS", "CAPACITY_ACTUAL_ROOM", "CAPACITY_FUNDING_ROOM",
    "OCCUPIED_ROOMS", "UNOCCUPIED_ROOMS", "UNAVAILABLE_ROOMS", "OCCUPANCY_RATE_BEDS",
    "OCCUPANCY_RATE_ROOMS",
)  # fmt: skip
SECTORS = {
    "Men": Sector.men,
    "Women": Sector.women,
    "Youth": Sector.youth,
    "Families": Sector.families,
    "Mixed Adult": Sector.mixed,
}
CAPACITY = {  # CAPACITY_TYPE -> (our type, the column holding actual capacity)
    "Bed Based Capacity": (CapacityType.beds, "CAPACITY_ACTUAL_BED"),
    "Room Based Capacity": (CapacityType.rooms, "CAPACITY_ACTUAL_ROOM"),
}
COUNT_COLUMNS = ("CAPACITY_ACTUAL_BED", "OCCUPIED_BEDS", "CAPACITY_ACTUAL_ROOM", "OCCUPIED_ROOMS")
CITY_SOURCE = TORONTO.source  # our source ids for the city's places are toronto:<city id>


@dataclass
class Report:
    rows: int = 0
    sites_added: int = 0
    programs_added: int = 0
    programs_updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): not loaded
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): loaded
    unplaced: list[str] = field(default_factory=list)  # site names without coordinates


def whole_number(row: dict, column: str, required: bool = True) -> int | None:
    text = (row.get(column) or "").strip()
    if not text:
        if required:
            raise ValueError(f"{column} is missing")
        return None
    if not text.lstrip("-").isdigit():
        kind = "a decimal" if text.replace(".", "", 1).lstrip("-").isdigit() else "not a number"
        raise ValueError(f"{column} {text!r} is {kind}; expected a whole number")
    value = int(text)
    if value < 0:
        raise ValueError(f"{column} is negative ({value})")
    return value


def check_row(row: dict) -> dict:
    """Return the fields we load from a row, or raise ValueError with the reason."""
    location = whole_number(row, "LOCATION_ID")
    program = whole_number(row, "PROGRAM_ID")
    for column in COUNT_COLUMNS:
        whole_number(row, column, required=False)
    if row.get("SECTOR") not in SECTORS:
        raise ValueError(f"SECTOR {row.get('SECTOR')!r} is not one of {', '.join(SECTORS)}")
    if row.get("CAPACITY_TYPE") not in CAPACITY:
        raise ValueError(f"CAPACITY_TYPE {row.get('CAPACITY_TYPE')!r} is unknown")
    kind, column = CAPACITY[row["CAPACITY_TYPE"]]
    capacity = whole_number(row, column)
    if not (row.get("PROGRAM_NAME") or "").strip():
        raise ValueError("PROGRAM_NAME is missing")
    # The city leaves out the location of sites it keeps confidential (e.g. women's shelters
    # for survivors of violence): keep them, confidential, named after their shelter group.
    confidential = not (row.get("LOCATION_NAME") or "").strip()
    if confidential and not (row.get("SHELTER_GROUP") or "").strip():
        raise ValueError("LOCATION_NAME and SHELTER_GROUP are both missing")
    return {
        "location": location,
        "program": program,
        "kind": kind,
        "capacity": capacity,
        "confidential": confidential,
    }


def load_locations(path: Path | None) -> dict[int, tuple[float, float]]:
    """LOCATION_ID -> (lat, lon) from a GeoJSON whose features list their ids in `id`."""
    if path is None:
        return {}
    places = {}
    for feature in json.loads(path.read_text())["features"]:
        lon, lat = feature["geometry"]["coordinates"][:2]
        ids = feature["properties"]["id"]
        for location_id in ids if isinstance(ids, list) else [ids]:
            places[int(location_id)] = (lat, lon)
    return places


def load_centroids(path: Path | None) -> dict[str, tuple[float, float]]:
    """Postal area (first three characters of a postal code) -> (lat, lon)."""
    if path is None:
        return {}
    with path.open(newline="") as f:
        return {
            r["Postalcode"]: (float(r["Latitude"]), float(r["Longitude"]))
            for r in csv.DictReader(f)
        }


def rows(path: Path, mapping: Mapping = TORONTO) -> Iterator[tuple[int, dict]]:
    """(line number, row in the city's format) of a file in the city's format, or in another
    one through `mapping`; ValueError naming the missing columns."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in mapping.needs(COLUMNS) if c not in (reader.fieldnames or [])]
        if missing:
            kind = "the city's 32-column format" if mapping is TORONTO else "as the mapping says"
            raise ValueError(f"{path} is not {kind}: missing {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):  # line 1 is the header
            yield line, mapping.translate(row)


def import_csv(
    session: Session,
    path: Path,
    locations: Path | None = None,
    centroids: Path | None = None,
    progress: Callable[[int], None] | None = None,
    mapping: Mapping = TORONTO,
) -> Report:
    report = Report()
    newest: dict[int, tuple[str, dict, dict]] = {}  # PROGRAM_ID -> (date, row, checked)
    for line, row in rows(path, mapping):
        report.rows += 1
        if progress and report.rows % 1000 == 0:
            progress(report.rows)
        try:
            checked = check_row(row)
        except ValueError as e:
            report.errors.append((line, str(e)))
            continue
        if checked["confidential"]:
            report.warnings.append((line, "location withheld: loaded as confidential"))
        elif not (row.get("LOCATION_POSTAL_CODE") or "").strip():
            report.warnings.append((line, "LOCATION_POSTAL_CODE is blank"))
        city = (row.get("LOCATION_CITY") or "").strip()
        if city and mapping.city and city != mapping.city:
            report.warnings.append((line, f"LOCATION_CITY is {city}, outside {mapping.city}"))
        date = row.get("OCCUPANCY_DATE", "")
        if checked["program"] not in newest or date >= newest[checked["program"]][0]:
            newest[checked["program"]] = (date, row, checked)
    places, areas = load_locations(locations), load_centroids(centroids)
    sites: dict[int, Site] = {}
    for _date, row, checked in sorted(newest.values(), key=lambda item: item[2]["program"]):
        site = sites.get(checked["location"]) or _site(
            session, row, checked, places, areas, report, mapping.source
        )
        sites[checked["location"]] = site
        _program(session, site, row, checked, report, mapping.source)
    session.commit()
    return report


def _site(session, row, checked, places, areas, report, source) -> Site:
    source_id = f"{source}:{checked['location']}"
    site = session.exec(select(Site).where(Site.source_id == source_id)).first()
    name = (row.get("LOCATION_NAME") or row["SHELTER_GROUP"]).strip()
    if site is None:
        site = Site(source_id=source_id, name=name)
        report.sites_added += 1
    postal = (row.get("LOCATION_POSTAL_CODE") or "").strip().upper()
    point = places.get(checked["location"]) or areas.get(postal[:3])
    site.name = name
    site.confidential = checked["confidential"]
    site.address = (row.get("LOCATION_ADDRESS") or "").strip() or None
    site.city = (row.get("LOCATION_CITY") or "").strip() or None
    site.postal_code = postal or None
    site.organization = (row.get("ORGANIZATION_NAME") or "").strip() or None
    site.lat, site.lon = point if point else (site.lat, site.lon)
    if site.lat is None and not site.confidential:
        report.unplaced.append(site.name)
    _mark_edited(session, site, site)
    session.add(site)
    session.flush()
    return site


def _program(session, site, row, checked, report, source) -> None:
    source_id = f"{source}:{checked['program']}"
    program = session.exec(select(Program).where(Program.source_id == source_id)).first()
    if program is None:
        program = Program(
            source_id=source_id, site_id=site.id, name="", sector=Sector.mixed, capacity=0
        )
        report.programs_added += 1
    program.site_id = site.id
    program.name = row["PROGRAM_NAME"].strip()
    program.sector = SECTORS[row["SECTOR"]]
    program.capacity_type = checked["kind"]
    program.capacity = checked["capacity"]
    if program.id is not None and session.is_modified(program):
        report.programs_updated += 1  # changed by the file: an unchanged one is not counted
    _mark_edited(session, program, site)
    session.add(program)


def _mark_edited(session, row, site) -> None:
    """An existing site or program the file changed: stamp the site's edit time, as an admin
    edit does, so the event stream resends the site and cached lists are rebuilt."""
    if row.id is not None and session.is_modified(row):
        site.edited_at = utcnow()
        session.add(site)
