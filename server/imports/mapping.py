"""Any similar CSV, read as if it were the City of Toronto's: a column-mapping file says how.

The file is JSON (docs/operations.md has an example):

    {"source": "ottawa", "city": "Ottawa",
     "columns": {"LOCATION_ID": "site_code", "PROGRAM_NAME": "program", ...},
     "constants": {"CAPACITY_TYPE": "Bed Based Capacity"},
     "values": {"SECTOR": {"Adult men": "Men", "Adult women": "Women"}}}

`columns` names, for each of the city's columns, the file's column that holds it; `constants`
fills a city column with one value for every row; `values` translates a column's values to
the city's words; city columns neither mapped nor constant are blank. Every check the Toronto
import makes then applies unchanged. `source`
prefixes the source ids (`ottawa:17`), so two cities' ids never collide; `city` is the home
city (rows elsewhere load with a warning).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Mapping:
    source: str = "toronto"
    city: str = "Toronto"
    columns: dict[str, str] = field(default_factory=dict)  # city column -> file column
    constants: dict[str, str] = field(default_factory=dict)  # city column -> value
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> file -> city

    def needs(self, city_columns) -> list[str]:
        """The file columns that must be present: the mapped ones (city columns left out
        are blank), or, with no mapping, all of the city's own."""
        return list(self.columns.values()) if self.columns else list(city_columns)

    def translate(self, row: dict) -> dict:
        """A file row as a row of the city's format."""
        if not self.columns:
            return row
        out = {column: row[file_column] for column, file_column in self.columns.items()}
        out.update(self.constants)
        for column, words in self.values.items():
            if out.get(column) in words:
                out[column] = words[out[column]]
        return out


TORONTO = Mapping()


def load(path: Path, city_columns) -> Mapping:
    """Read a mapping file; ValueError naming the first thing wrong in it."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the mapping: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the mapping must be a JSON object")
    known = {"source", "city", "columns", "constants", "values"}
    if unknown := sorted(set(raw) - known):
        raise ValueError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    source = raw.get("source", "")
    if not source or not set(source) <= SOURCE_CHARS or source == TORONTO.source:
        raise ValueError(
            f"{path}: source {source!r}: a short name of a-z, 0-9 and '-', not 'toronto'"
        )
    for key in ("columns", "constants", "values"):
        table = raw.get(key, {})
        if not isinstance(table, dict):
            raise ValueError(f"{path}: {key} must be an object")
        for column, value in table.items():
            if column not in city_columns:
                raise ValueError(f"{path}: {key}.{column}: not one of the city's columns")
            wanted = dict if key == "values" else str
            if not isinstance(value, wanted):
                raise ValueError(f"{path}: {key}.{column} must be a {wanted.__name__}")
    return Mapping(
        source=source,
        city=str(raw.get("city", "")),
        columns=raw.get("columns", {}),
        constants=raw.get("constants", {}),
        values=raw.get("values", {}),
    )
