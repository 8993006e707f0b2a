"""The committed samples of public data and standards (tests/fixtures/README.md: sources and
licences), and checks against those standards."""

import json
import math
from datetime import datetime
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from server.exports.toronto_csv import COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Six nights of the City of Toronto's 2024 file, unmodified rows (816 of them).
TORONTO_NIGHTS = FIXTURES / "toronto/occupancy-2024-six-nights.csv"
HSDS = FIXTURES / "hsds-3.1-dev"


def toronto_row(**values) -> dict[str, str]:
    """A row of the City of Toronto's 32 columns: a 20-bed men's program at Cedar House,
    with `values` changed."""
    base = {
        "OCCUPANCY_DATE": "2024-01-01",
        "ORGANIZATION_NAME": "Org",
        "SHELTER_GROUP": "Group",
        "LOCATION_ID": "1",
        "LOCATION_NAME": "Cedar House",
        "LOCATION_ADDRESS": "1 King St",
        "LOCATION_POSTAL_CODE": "M5V 1A1",
        "LOCATION_CITY": "Toronto",
        "PROGRAM_ID": "10",
        "PROGRAM_NAME": "Cedar Men",
        "SECTOR": "Men",
        "CAPACITY_TYPE": "Bed Based Capacity",
        "CAPACITY_ACTUAL_BED": "20",
        "OCCUPIED_BEDS": "18",
    }
    return dict.fromkeys(COLUMNS, "") | base | values


def hsds_validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    """(page, service) validators from Open Referral's official files, closed to fields
    outside the spec."""
    service = json.loads((HSDS / "compiled/service_with_definitions.json").read_text())
    page = json.loads((HSDS / "openapi.json").read_text())["components"]["schemas"]["Page"]
    return (
        Draft202012Validator(page, format_checker=_formats()),
        Draft202012Validator(_closed(service), format_checker=_formats()),
    )


def hsds_errors(document: dict, validators) -> list[str]:
    page, service = validators
    errors = [f"page: {e.message}" for e in page.iter_errors(document)]
    for item in document["contents"]:
        errors += [f"{item['name']}: {e.json_path}: {e.message}" for e in service.iter_errors(item)]
    return errors


def _formats() -> FormatChecker:
    formats = FormatChecker()  # checks uuid and email itself; date-time needs a helper

    @formats.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:  # RFC 3339: a full date and time with its offset
        return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None

    return formats


def _closed(schema):
    """The schema with additionalProperties false on each object: the spec's fields only."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict):
        closed["additionalProperties"] = False
    return closed


def rfc7946_problems(document) -> list[str]:
    """What breaks RFC 7946 in a FeatureCollection of Points (all this export writes)."""
    problems = []
    if document.get("type") != "FeatureCollection" or not isinstance(
        document.get("features"), list
    ):
        return ["3.3: a FeatureCollection has type FeatureCollection and a features array"]
    if "crs" in document:
        problems.append("4: no crs member; coordinates are WGS 84")
    for number, feature in enumerate(document["features"]):
        where = f"features[{number}]"
        if feature.get("type") != "Feature":
            problems.append(f"{where}: 3.2: type must be Feature")
        if not ("properties" in feature and isinstance(feature["properties"], dict | None)):
            problems.append(f"{where}: 3.2: properties must be an object or null")
        if "id" in feature and not isinstance(feature["id"], str | int | float):
            problems.append(f"{where}: 3.2: id must be a string or a number")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            problems.append(f"{where}: 3.1.2: geometry must be a Point here")
            continue
        position = geometry.get("coordinates")
        if not (
            isinstance(position, list)
            and len(position) in (2, 3)
            and all(isinstance(n, int | float) and math.isfinite(n) for n in position)
        ):
            problems.append(f"{where}: 3.1.1: a position is 2 or 3 numbers")
            continue
        lon, lat = position[:2]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            problems.append(f"{where}: 3.1.1: longitude first, then latitude, in range")
    return problems
