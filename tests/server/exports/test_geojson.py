"""The GeoJSON export keeps to RFC 7946's structure, checked member by member."""

import math

from firmware.dialcore import protocol
from server.ingest.handler import handle
from server.models import Program, Sector, Site


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


def test_the_checker_finds_the_usual_mistakes():
    swapped = {
        "type": "FeatureCollection",
        "crs": {"type": "name"},
        "features": [
            {
                "type": "Feature",
                "id": [1],
                "geometry": {"type": "Point", "coordinates": [43.65, -179.5 - 100]},
                "properties": "x",
            }
        ],
    }
    assert len(rfc7946_problems(swapped)) == 4


def test_the_export_is_rfc_7946_geojson_of_located_public_sites(client, session, site):
    handle(
        session,
        protocol.topic("dial-01", "state"),
        protocol.encode_state(1, 1, "occupied", 1, [(12, 20)]),
        4096,
    )
    unplaced = Site(name="Unplaced House")
    hidden = Site(name="Safe Haven", lat=43.7, lon=-79.4, confidential=True)
    session.add_all([unplaced, hidden])
    session.flush()
    for place in (unplaced, hidden):
        session.add(Program(site_id=place.id, name="Beds", sector=Sector.mixed, capacity=5))
    session.commit()

    response = client.get("/api/v1/exports/shelters.geojson")

    assert response.headers["content-type"] == "application/geo+json"
    document = response.json()
    assert rfc7946_problems(document) == []
    [feature] = document["features"]  # no point: not drawable; confidential: never public
    assert feature["geometry"]["coordinates"] == [-79.38, 43.65]
    assert (feature["properties"]["name"], feature["properties"]["available"]) == (
        "Maple House",
        8,
    )
