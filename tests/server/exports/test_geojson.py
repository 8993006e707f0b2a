"""The GeoJSON export keeps to RFC 7946's structure, checked member by member."""

from firmware.dialcore import protocol
from server.ingest.handler import handle
from server.models import Program, Sector, Site
from tests.support.data import rfc7946_problems


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
