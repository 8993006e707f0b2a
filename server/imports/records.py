"""A city's file read through its profile: one Record per program per row, checked.

A Record holds what we store, in our terms: the site and program (every field checked against
the limits of the public shapes, so no imported value can break a public page), and, when the
row is a night's count, the night and the occupied beds or rooms. A row that cannot be
trusted raises ValueError with the reason; the caller reports it with the row's line.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from server.imports.files import MissingColumns, csv_records, point
from server.imports.profile import SITE_FIELDS, SITE_LIST, Profile, Split
from server.models import MAX_CAPACITY, CapacityType, ProgramBase, SiteBase

NOT_KEY = re.compile(r"[^0-9a-z]+")


@dataclass
class Record:
    line: int
    site_key: str
    program_key: str
    site: dict  # SiteBase fields: name, confidential, address, city, postal_code, organization
    program: dict  # ProgramBase fields: name, sector, capacity_type, capacity
    point: tuple[float, float] | None = None
    night: date | None = None
    occupied: int | None = None
    funding: int | None = None  # capacity funded, when the city says (out of service = the gap)
    warnings: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """A stable key made from a name: 'St. Mary's  Shelter' -> 'st-mary-s-shelter'."""
    return NOT_KEY.sub("-", name.casefold()).strip("-")


def read(
    path: Path,
    profile: Profile,
    errors: list[tuple[int, str]],
    site_list: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Record]:
    """The records of `path` (joined with `site_list`, when the profile reads one); rows
    refused go to `errors` as (line, reason). ValueError when the file cannot be read at all."""
    sites = _site_list(site_list, profile)
    try:
        for count, (line, row) in enumerate(csv_records(path, profile.needed(), errors), 1):
            if progress:
                progress(count)
            try:
                yield from _records(line, row, profile, sites)
            except ValueError as e:
                errors.append((line, str(e)))
    except MissingColumns as e:
        raise ValueError(f"{path} is not as the profile says: {e}") from None


def _site_list(path: Path | None, profile: Profile) -> dict[str, dict] | None:
    """The site list, by key, each row's columns named sites.<column>."""
    key = profile.sites.get("key")
    if not key:
        if path is not None:
            raise ValueError("the profile reads no site list (sites.key): leave out --sites")
        return None
    if path is None:
        raise ValueError("the profile joins a site list (sites.key): give it with --sites")
    needed = [c.removeprefix(SITE_LIST) for c in profile.read() if c.startswith(SITE_LIST)]
    errors: list[tuple[int, str]] = []
    found: dict[str, dict] = {}
    try:
        for line, row in csv_records(path, [*key, *needed], errors):
            value = _key(row, key, profile)
            if value in found:
                errors.append((line, f"site {value!r} is listed twice"))
            found[value] = {f"{SITE_LIST}{column}": v for column, v in row.items()}
    except MissingColumns as e:
        raise ValueError(f"{path} is not as the profile says: {e}") from None
    if errors:
        line, reason = errors[0]
        raise ValueError(f"{path}:{line}: {reason}")
    return found


def _records(line: int, row: dict, profile: Profile, sites: dict | None) -> Iterator[Record]:
    if sites is not None:
        joined = sites.get(_key(row, profile.keys["site"], profile))
        if joined is None:
            raise ValueError(f"{_shown(row, profile.keys['site'])}: not in the site list")
        row = row | joined
    for rule in profile.filters:
        value = (row.get(rule["column"]) or "").strip()
        if ("keep" in rule and value not in rule["keep"]) or value in rule.get("drop", ()):
            return
    site_key = _key(row, profile.keys["site"], profile)
    site = _site(row, profile)
    night = _night(row, profile)
    found = _point(row, profile)
    warnings = _warnings(site, profile)
    programs = [(_key(row, profile.keys["program"], profile), None)]
    if profile.splits:
        programs = [(f"{programs[0][0]}/{slug(s.name)}", s) for s in profile.splits]
    for program_key, split in programs:
        record = _program(row, profile, split, site)
        if record is None:
            continue  # this site has none of this bed type
        fields, occupied, funding = record
        _fits(SiteBase, site, profile.columns | {"name": profile.columns.get("site_name")})
        noted = list(warnings)
        if occupied is not None and occupied > fields["capacity"]:  # kept, as the profile says
            noted.append(f"occupied {occupied} above capacity {fields['capacity']}: kept, 0 free")
        yield Record(
            line, site_key, program_key, site, fields, found, night, occupied, funding, noted
        )


def _key(row: dict, columns: list[str], profile: Profile) -> str:
    parts = []
    for column in columns:
        value = (row.get(column) or "").strip()
        if not value:
            raise ValueError(f"{column} is missing")
        if profile.keys.get("from_names"):
            value = slug(value)
        elif profile.decimals and _number(value):
            value = str(_whole(column, value, profile))
        parts.append(value)
    return "/".join(parts)


def _shown(row: dict, columns: list[str]) -> str:
    return ", ".join(f"{c} {row.get(c)!r}" for c in columns)


def _text(row: dict, column: str | None) -> str | None:
    return (row.get(column) or "").strip() or None if column else None


def _site(row: dict, profile: Profile) -> dict:
    columns, constants = profile.columns, profile.constants
    names = [_text(row, c) for c in columns.get("site_name", [])]
    name = next((n for n in names if n), None)
    if name is None:
        raise ValueError(f"{' and '.join(columns.get('site_name', ['site_name']))}: all blank")
    hidden = columns.get("confidential_when_blank", [])
    site = {f: _text(row, columns.get(f)) or constants.get(f) for f in SITE_FIELDS}
    site["postal_code"] = site["postal_code"].upper() if site["postal_code"] else None
    confidential = bool(hidden) and not any(_text(row, c) for c in hidden)
    return {"name": name, "confidential": confidential, **site}


def _program(row: dict, profile: Profile, split: Split | None, site: dict):
    """(program fields, occupied, funding), or None for a split column left blank."""
    sector = split.sector if split else _word(row, profile, "sector")
    unit = (split.unit if split else None) or _word(row, profile, "unit")
    counts = split.columns if split else profile.units.get(unit)
    if counts is None:
        raise ValueError(f"no columns for {unit} in the profile (units.{unit})")
    capacity = _count(row, counts.get("capacity"), profile)
    occupied = _count(row, counts.get("occupied"), profile)
    if split and not capacity and occupied is None:
        return None
    if capacity is None:
        raise ValueError(f"{counts.get('capacity', 'the capacity')} is missing")
    names = [_text(row, c) for c in profile.columns.get("program_name", [])]
    name = next((n for n in names if n), None)
    if split:
        name = f"{name or site['name']}: {split.name}"
    elif name is None and profile.columns.get("program_name"):
        raise ValueError(f"{profile.columns['program_name'][0]} is missing")
    if occupied is not None and occupied > capacity and profile.over_capacity == "refuse":
        raise ValueError(f"{counts['occupied']} {occupied} is above capacity {capacity}")
    fields = {
        "name": name or site["name"],
        "sector": sector,
        "capacity_type": unit,
        "capacity": capacity,
    }
    _fits(ProgramBase, fields, {"name": profile.columns.get("program_name"), **counts})
    funding = _count(row, counts.get("funding"), profile)
    if funding is not None and funding > MAX_CAPACITY:  # our capacity holds what is funded
        raise ValueError(f"{counts['funding']} {funding} is above {MAX_CAPACITY}")
    return fields, occupied, funding


def _word(row: dict, profile: Profile, kind: str):
    """A sector or unit: through the strict value table, else the constant."""
    column = profile.columns.get(kind)
    if column is None:
        return profile.constants.get(kind, CapacityType.beds if kind == "unit" else None)
    value = (row.get(column) or "").strip()
    table = profile.values[kind]
    if value in table:
        return table[value]
    if kind in profile.defaults:
        return profile.defaults[kind]
    raise ValueError(f"{column} {value!r} is not one of {', '.join(table)}")


def _number(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit()


def _whole(column: str, text: str, profile: Profile) -> int:
    if profile.decimals and "." in text and _number(text):
        whole, _, fraction = text.partition(".")
        if fraction.strip("0"):
            raise ValueError(f"{column} {text!r} is not a whole number")
        text = whole
    if not text.lstrip("-").isdigit():
        kind = "a decimal" if _number(text) else "not a number"
        raise ValueError(f"{column} {text!r} is {kind}; expected a whole number")
    value = int(text)
    if value < 0:
        raise ValueError(f"{column} is negative ({value})")
    return value


def _count(row: dict, column: str | None, profile: Profile) -> int | None:
    text = _text(row, column)
    return None if text is None else _whole(column, text, profile)


def _night(row: dict, profile: Profile) -> date | None:
    column = profile.columns.get("date")
    if column is None:
        return None
    text = (row.get(column) or "").strip()
    for form in profile.date_formats:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    raise ValueError(f"{column} {text!r} is not a date ({' or '.join(profile.date_formats)})")


def _point(row: dict, profile: Profile) -> tuple[float, float] | None:
    where = profile.coordinates
    try:
        if "combined" in where:
            text = _text(row, where["combined"])
            if text is None:
                return None
            first, second = (part.strip() for part in text.split(","))
            lat, lon = (second, first) if where.get("order") == "lon,lat" else (first, second)
            return point(lat, lon)
        if "lat" in where:
            lat, lon = _text(row, where["lat"]), _text(row, where["lon"])
            return None if lat is None or lon is None else point(lat, lon)
    except ValueError as e:
        column = where.get("combined") or f"{where['lat']}, {where['lon']}"
        raise ValueError(f"{column}: not a latitude and longitude ({e})") from None
    return None


def _warnings(site: dict, profile: Profile) -> list[str]:
    if site["confidential"]:
        return ["location withheld: loaded as confidential"]
    found = []
    postal = profile.columns.get("postal_code")
    if postal and not site["postal_code"]:
        found.append(f"{postal} is blank")
    city = site["city"]
    home = {m.casefold() for m in profile.municipalities}
    if city and home and city.casefold() not in home:
        found.append(f"{profile.columns.get('city', 'city')} is {city}, outside {profile.region}")
    return found


def _fits(shape, values: dict, columns: dict) -> None:
    """ValueError naming the column and the limit, when `values` break a rule of `shape`
    (the fields the API serves: a length, a range)."""
    try:
        shape.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        name = str(first["loc"][0])
        value = values.get(name)
        shown = f"{len(value)} characters" if isinstance(value, str) else repr(value)
        column = columns.get(name) or name
        if isinstance(column, list):
            column = column[0]
        raise ValueError(f"{column} ({shown}): {first['msg'].lower()}") from None
