"""The committed samples of public data and standards (tests/fixtures/README.md: sources and
licences), and checks against those standards."""

import json
from datetime import datetime
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker

from server.imports.toronto import COLUMNS

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
