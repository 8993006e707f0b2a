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

from pydantic import ValidationError
from sqlmodel import Session, select

from server.imports.mapping import TORONTO, Mapping
from server.models import CapacityType, Program, ProgramBase, Sector, Site, SiteBase, utcnow

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


def text(row: dict, column: str) -> str | None:
    """A column's value, stripped; None when blank."""
    return (row.get(column) or "").strip() or None


def check_row(row: dict) -> dict:
    """Return the fields we load from a row, or raise ValueError with the reason: everything
    the public shapes would refuse is refused here, so no stored value can break a page."""
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
    if not text(row, "PROGRAM_NAME"):
        raise ValueError("PROGRAM_NAME is missing")
    # The city leaves out the location of sites it keeps confidential (e.g. women's shelters
    # for survivors of violence): no name and no address. Keep them, confidential, named after
    # their shelter group. A site with an address but no name (a warming centre) is public.
    confidential = not text(row, "LOCATION_NAME") and not text(row, "LOCATION_ADDRESS")
    name = text(row, "LOCATION_NAME") or text(row, "SHELTER_GROUP") or text(row, "LOCATION_ADDRESS")
    if name is None:
        raise ValueError("LOCATION_NAME, LOCATION_ADDRESS and SHELTER_GROUP are all missing")
    site = {
        "name": name,
        "confidential": confidential,
        "address": text(row, "LOCATION_ADDRESS"),
        "city": text(row, "LOCATION_CITY"),
        "postal_code": (text(row, "LOCATION_POSTAL_CODE") or "").upper() or None,
        "organization": text(row, "ORGANIZATION_NAME"),
    }
    fields = {
        "name": text(row, "PROGRAM_NAME"),
        "sector": SECTORS[row["SECTOR"]],
        "capacity_type": kind,
        "capacity": capacity,
    }
    _fits(SiteBase, site, SITE_COLUMNS | {"name": "LOCATION_NAME"})
    _fits(ProgramBase, fields, {"name": "PROGRAM_NAME", "capacity": column})
    return {
        "location": location,
        "program": program,
        "kind": kind,
        "capacity": capacity,
        "confidential": confidential,
        "site": site,
        "fields": fields,
    }


# Where each field of a site comes from, to name the column when a value does not fit.
SITE_COLUMNS = {
    "address": "LOCATION_ADDRESS",
    "city": "LOCATION_CITY",
    "postal_code": "LOCATION_POSTAL_CODE",
    "organization": "ORGANIZATION_NAME",
}


def _fits(shape, values: dict, columns: dict[str, str]) -> None:
    """ValueError naming the column and the limit, when `values` break a rule of `shape`
    (the fields the API serves: a length, a range)."""
    try:
        shape.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        field_name = str(first["loc"][0])
        value = values.get(field_name)
        shown = f"{len(value)} characters" if isinstance(value, str) else repr(value)
        column = columns.get(field_name, field_name)
        raise ValueError(f"{column} ({shown}): {first['msg'].lower()}") from None


def point(lat: object, lon: object) -> tuple[float, float]:
    """(lat, lon) as numbers on the Earth; ValueError otherwise."""
    lat, lon = float(lat), float(lon)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat}, {lon}) is not a latitude and longitude")
    return lat, lon


def load_locations(path: Path | None) -> dict[int, tuple[float, float]]:
    """LOCATION_ID -> (lat, lon) from a GeoJSON whose features list their ids in `id`;
    ValueError naming the file and the feature when it is not of that shape."""
    if path is None:
        return {}
    try:
        features = json.loads(path.read_text())["features"]
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection ({e})") from None
    places = {}
    for number, feature in enumerate(features if isinstance(features, list) else [None]):
        try:
            lon, lat = feature["geometry"]["coordinates"][:2]
            ids = feature["properties"]["id"]
            for location_id in ids if isinstance(ids, list) else [ids]:
                places[int(location_id)] = point(lat, lon)
        except (TypeError, KeyError, ValueError) as e:
            raise ValueError(
                f"{path}: feature {number} needs a Point and properties.id (a location id "
                f"or a list of them): {e!r}"
            ) from None
    return places


CENTROID_COLUMNS = ("Postalcode", "Latitude", "Longitude")


def load_centroids(path: Path | None) -> dict[str, tuple[float, float]]:
    """Postal area (first three characters of a postal code) -> (lat, lon); ValueError
    naming the file and line when it is not of that shape."""
    if path is None:
        return {}
    areas = {}
    errors: list[tuple[int, str]] = []
    try:
        found = list(csv_records(path, CENTROID_COLUMNS, errors))
    except MissingColumns as e:
        raise ValueError(f"{path}: not postal-area centres: {e}") from None
    for line, r in found:
        try:
            areas[r["Postalcode"].strip().upper()] = point(r["Latitude"], r["Longitude"])
        except ValueError as e:
            errors.append((line, str(e)))
    if errors:
        line, reason = errors[0]
        raise ValueError(f"{path}:{line}: {reason}")
    return areas


def _decoded(path: Path, f) -> Iterator[str]:
    """The file's lines as text (UTF-8, a byte-order mark allowed); ValueError naming the
    line, not a byte offset, when one is not UTF-8."""
    for number, raw in enumerate(f, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path}:{number}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}):"
                " save the file as UTF-8"
            ) from None


class MissingColumns(ValueError):
    def __init__(self, missing: list[str]):
        super().__init__(f"missing column(s) {', '.join(missing)}")
        self.missing = missing


def csv_records(
    path: Path, needed, errors: list[tuple[int, str]]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV file with a header, `line` being where the record starts in the
    file (a quoted field may span lines). A record that cannot be read (a field over the csv
    module's limit, 128 KiB) goes to `errors` with its line; ValueError naming the missing
    columns of `needed`, or a line that is not UTF-8."""
    try:
        f = path.open("rb")
    except OSError as e:
        raise ValueError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        reader = csv.reader(_decoded(path, f))
        header = next(reader, [])
        if missing := [c for c in needed if c not in header]:
            raise MissingColumns(missing)
        ended = reader.line_num  # the line the previous record ended on
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                errors.append((ended + 1, f"unreadable: {e}"))
                ended = reader.line_num
                continue
            line, ended = ended + 1, reader.line_num
            if values:  # a blank line is not a record; a short one is blank at its end
                yield line, dict.fromkeys(header, "") | dict(zip(header, values, strict=False))


def rows(
    path: Path, mapping: Mapping = TORONTO, errors: list[tuple[int, str]] | None = None
) -> Iterator[tuple[int, dict]]:
    """(line number, row in the city's format) of a file in the city's format, or in another
    one through `mapping`; records that cannot be read go to `errors`. ValueError naming the
    missing columns."""
    records = csv_records(path, mapping.needs(COLUMNS), [] if errors is None else errors)
    try:
        for line, row in records:
            yield line, mapping.translate(row)
    except MissingColumns as e:
        kind = "the city's 32-column format" if mapping is TORONTO else "as the mapping says"
        raise ValueError(f"{path} is not {kind}: missing {', '.join(e.missing)}") from None


def import_csv(
    session: Session,
    path: Path,
    locations: Path | None = None,
    centroids: Path | None = None,
    progress: Callable[[int], None] | None = None,
    mapping: Mapping = TORONTO,
) -> Report:
    report = Report()
    places, areas = load_locations(locations), load_centroids(centroids)  # before a long read
    newest: dict[int, tuple[str, dict]] = {}  # PROGRAM_ID -> (date, checked)
    for line, row in rows(path, mapping, report.errors):
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
            newest[checked["program"]] = (date, checked)
    sites: dict[int, Site] = {}
    for _date, checked in sorted(newest.values(), key=lambda item: item[1]["program"]):
        site = sites.get(checked["location"]) or _site(
            session, checked, places, areas, report, mapping.source
        )
        sites[checked["location"]] = site
        _program(session, site, checked, report, mapping.source)
    session.commit()
    return report


def _site(session, checked, places, areas, report, source) -> Site:
    source_id = f"{source}:{checked['location']}"
    site = session.exec(select(Site).where(Site.source_id == source_id)).first()
    fields = checked["site"]
    if site is None:
        site = Site(source_id=source_id, name=fields["name"])
        report.sites_added += 1
    postal = fields["postal_code"] or ""
    found = places.get(checked["location"]) or areas.get(postal[:3])
    site.sqlmodel_update(fields)
    site.lat, site.lon = found if found else (site.lat, site.lon)
    if site.lat is None and not site.confidential:
        report.unplaced.append(site.name)
    _mark_edited(session, site, site)
    session.add(site)
    session.flush()
    return site


def _program(session, site, checked, report, source) -> None:
    source_id = f"{source}:{checked['program']}"
    program = session.exec(select(Program).where(Program.source_id == source_id)).first()
    if program is None:
        program = Program(
            source_id=source_id, site_id=site.id, name="", sector=Sector.mixed, capacity=0
        )
        report.programs_added += 1
    program.site_id = site.id
    program.sqlmodel_update(checked["fields"])
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
