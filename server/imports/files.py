"""Reading the files a city publishes: CSV records with their real line numbers, and the
places (geocoded points, postal-area centres) that put sites on the map."""

import csv
import json
from collections.abc import Iterator
from pathlib import Path


def point(lat: object, lon: object) -> tuple[float, float]:
    """(lat, lon) as numbers on the Earth; ValueError otherwise."""
    lat, lon = float(lat), float(lon)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"({lat}, {lon}) is not a latitude and longitude")
    return lat, lon


def load_locations(path: Path | None) -> dict[str, tuple[float, float]]:
    """Site key -> (lat, lon) from a GeoJSON whose features list their sites' keys in
    `properties.id` (one or a list), and address (lower case) -> (lat, lon) for those with
    `properties.address`; ValueError naming the file and the feature when it is not of that
    shape."""
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
            found = point(lat, lon)
            ids = feature["properties"]["id"]
            for location_id in ids if isinstance(ids, list) else [ids]:
                places[key_text(location_id)] = found
            if isinstance(address := feature["properties"].get("address"), str):
                places[address.strip().lower()] = found
        except (TypeError, KeyError, ValueError) as e:
            raise ValueError(
                f"{path}: feature {number} needs a Point and properties.id (a location id "
                f"or a list of them): {e!r}"
            ) from None
    return places


CENTROID_COLUMNS = ("Postalcode", "Latitude", "Longitude")


def key_text(value: object) -> str:
    """A key as text: 1320, 1320.0 and "1320" are the same site."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


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
