"""A city profile: one TOML file saying how a city's shelter files read (docs/city-adoption.md).

The importer has no code for any city: Toronto's format is a profile like any other
(server/imports/profiles/toronto.toml). `load` checks a profile completely before a row is
read, and each error names the key (`units.beds.capacity: ...`).
"""

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.models import CapacityType, Sector

SHIPPED = Path(__file__).with_name("profiles")
SITE_LIST = "sites."  # a column of the site list joined to each row
SOURCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # prefixes source ids: toronto:1320
SITE_FIELDS = ("address", "city", "postal_code", "organization")
COUNT_FIELDS = ("capacity", "funding", "occupied")
OVER_CAPACITY = ("refuse", "keep")
ORDERS = ("lat,lon", "lon,lat")

# The shape of a profile: a key's type, a table of keys, or a list of one shape.
Strings = list[str]
SPEC: dict = {
    "source": str,
    "region": str,
    "municipalities": Strings,
    "timezone": str,
    "count_time": str,
    "date_formats": Strings,
    "decimals": bool,
    "over_capacity": str,
    "keys": {"site": Strings, "program": Strings, "from_names": bool},
    "columns": {
        "date": str,
        "site_name": Strings,
        "program_name": Strings,
        "sector": str,
        "unit": str,
        "confidential_when_blank": Strings,
        **dict.fromkeys(SITE_FIELDS, str),
    },
    "constants": {"sector": str, "unit": str, "city": str, "organization": str},
    "units": {unit.value: dict.fromkeys(COUNT_FIELDS, str) for unit in CapacityType},
    "values": {"sector": dict, "unit": dict},
    "defaults": {"sector": str, "unit": str},
    "filter": [{"column": str, "keep": Strings, "drop": Strings}],
    "split": [{"name": str, "sector": str, "unit": str, **dict.fromkeys(COUNT_FIELDS, str)}],
    "sites": {"key": Strings},
    "coordinates": {"lat": str, "lon": str, "combined": str, "order": str},
}


@dataclass(frozen=True)
class Split:
    """Columns of one row that are a program of their own (a site list's bed types)."""

    name: str
    sector: Sector
    unit: CapacityType | None = None
    columns: dict[str, str] = field(default_factory=dict)  # capacity/funding/occupied -> column


@dataclass(frozen=True)
class Profile:
    source: str
    region: str = ""
    municipalities: tuple[str, ...] = ()
    timezone: str = "UTC"
    count_time: time = time(4)
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    decimals: bool = False
    over_capacity: str = "refuse"
    keys: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    filters: tuple[dict, ...] = ()
    splits: tuple[Split, ...] = ()
    sites: dict = field(default_factory=dict)
    coordinates: dict = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def read(self) -> list[str]:
        """Every column this profile reads; a site list's are named sites.<column>."""
        named = [*self.keys["site"], *self.keys["program"]]
        for value in self.columns.values():
            named += value if isinstance(value, list) else [value]
        for counts in self.units.values():
            named += counts.values()
        named += [f["column"] for f in self.filters]
        named += [c for split in self.splits for c in split.columns.values()]
        named += [c for k, c in self.coordinates.items() if k != "order"]
        return list(dict.fromkeys(named))

    def needed(self) -> list[str]:
        """The main file's columns that this profile reads."""
        return [c for c in self.read() if not c.startswith(SITE_LIST)]


class ProfileError(ValueError):
    pass


def shipped(name: str) -> Path:
    return SHIPPED / f"{name}.toml"


def load(path: Path) -> Profile:
    """Read and check a profile; ProfileError naming the file and the key at fault."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ProfileError(f"{path}: cannot read the profile: {e}") from None
    try:
        return _profile(raw)
    except ProfileError as e:
        raise ProfileError(f"{path}: {e}") from None


def _profile(raw: dict) -> Profile:
    _shape(raw, SPEC, "")
    source = raw.get("source", "")
    if not SOURCE.match(source):
        raise ProfileError(f"source: {source!r} must be a short name of a-z, 0-9 and '-'")
    if "keys" not in raw:
        raise ProfileError("keys: missing")
    keys = raw["keys"]
    for kind in ("site", "program"):
        if not keys.get(kind):
            raise ProfileError(f"keys.{kind}: name the column(s) that identify a {kind}")
    values = {
        "sector": _table(raw, "sector", Sector),
        "unit": _table(raw, "unit", CapacityType),
    }
    defaults = {k: _member(v, k, f"defaults.{k}") for k, v in raw.get("defaults", {}).items()}
    constants = dict(raw.get("constants", {}))
    for name in ("sector", "unit"):
        if name in constants:
            constants[name] = _member(constants[name], name, f"constants.{name}")
    columns = raw.get("columns", {})
    splits = tuple(_split(s, n) for n, s in enumerate(raw.get("split", [])))
    for name in ("sector", "unit"):
        from_splits = bool(splits) and all(getattr(s, name) for s in splits)
        if not (name in columns or name in constants or from_splits):
            raise ProfileError(f"columns.{name}: say where the {name} is (or constants.{name})")
        if name in columns and not values[name]:
            raise ProfileError(f"values.{name}: a column needs a table of its values")
    if not splits and not raw.get("units"):
        raise ProfileError("units: say which columns hold each unit's counts (or use split)")
    for name, counts in raw.get("units", {}).items():
        if "capacity" not in counts and not splits:
            raise ProfileError(f"units.{name}.capacity: missing")
    for number, rule in enumerate(raw.get("filter", [])):
        if "column" not in rule or ("keep" in rule) == ("drop" in rule):
            raise ProfileError(f"filter[{number}]: give a column and one of keep or drop")
    _coordinates(raw.get("coordinates", {}))
    zone = raw.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"timezone: unknown time zone {zone!r}; use an IANA name") from None
    try:
        count_time = time.fromisoformat(raw.get("count_time", "04:00"))
    except ValueError:
        raise ProfileError("count_time: write HH:MM, e.g. 04:00") from None
    if raw.get("over_capacity", "refuse") not in OVER_CAPACITY:
        raise ProfileError(f"over_capacity: one of {', '.join(OVER_CAPACITY)}")
    profile = Profile(
        source=source,
        region=raw.get("region", ""),
        municipalities=tuple(raw.get("municipalities", [raw.get("region", "")])),
        timezone=zone,
        count_time=count_time,
        date_formats=tuple(raw.get("date_formats", ["%Y-%m-%d"])),
        decimals=raw.get("decimals", False),
        over_capacity=raw.get("over_capacity", "refuse"),
        keys={"from_names": False} | keys,
        columns=columns,
        constants=constants,
        units={CapacityType(k): v for k, v in raw.get("units", {}).items()},
        values=values,
        defaults=defaults,
        filters=tuple(raw.get("filter", [])),
        splits=splits,
        sites=raw.get("sites", {}),
        coordinates=raw.get("coordinates", {}),
    )
    if profile.needed() != profile.read() and not profile.sites.get("key"):
        raise ProfileError("sites.key: columns named sites.* need the site list's key column(s)")
    return profile


def _shape(value, spec, where: str) -> None:
    """ProfileError at the first key that is unknown or of the wrong type."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ProfileError(f"{where or 'the profile'}: must be a table")
        for key, item in value.items():
            at = f"{where}.{key}" if where else key
            if key not in spec:
                known = ", ".join(spec)
                raise ProfileError(f"{at}: unknown key (known here: {known})")
            _shape(item, spec[key], at)
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise ProfileError(f"{where}: must be a list")
        for n, item in enumerate(value):
            _shape(item, spec[0], f"{where}[{n}]")
    elif spec is Strings:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(f"{where}: must be a list of strings")
    elif spec is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ProfileError(f"{where}: must be a table of strings")
    elif not isinstance(value, spec):
        raise ProfileError(f"{where}: must be a {spec.__name__}")


def _member(value: str, kind: str, where: str):
    enum = Sector if kind == "sector" else CapacityType
    try:
        return enum(value)
    except ValueError:
        raise ProfileError(f"{where}: {value!r} is not one of {', '.join(enum)}") from None


def _table(raw: dict, kind: str, enum) -> dict:
    """A strict value table: the file's words -> ours. An unknown word in a row is an error
    (or the stated default), never passed through."""
    table = raw.get("values", {}).get(kind, {})
    return {word: _member(ours, kind, f"values.{kind}.{word}") for word, ours in table.items()}


def _split(raw: dict, number: int) -> Split:
    where = f"split[{number}]"
    if "name" not in raw or "sector" not in raw:
        raise ProfileError(f"{where}: give its name and sector")
    columns = {k: raw[k] for k in COUNT_FIELDS if k in raw}
    if not columns:
        raise ProfileError(f"{where}: name its capacity and/or occupied column")
    unit = _member(raw["unit"], "unit", f"{where}.unit") if "unit" in raw else None
    return Split(raw["name"], _member(raw["sector"], "sector", f"{where}.sector"), unit, columns)


def _coordinates(raw: dict) -> None:
    pair, combined = "lat" in raw or "lon" in raw, "combined" in raw
    if pair and not ("lat" in raw and "lon" in raw):
        raise ProfileError("coordinates: give both lat and lon")
    if pair and combined:
        raise ProfileError("coordinates: give lat and lon, or combined, not both")
    if raw.get("order", "lat,lon") not in ORDERS:
        raise ProfileError(f"coordinates.order: one of {', '.join(ORDERS)}")


TORONTO = load(shipped("toronto"))  # the default of `shelter-signal import`
