"""The public API: availability with freshness, one consistent error shape, privacy."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from firmware.dialcore import protocol
from server.api.main import create_app
from server.ingest.handler import handle
from server.models import CurrentState, Device, Program, Sector, Site
from server.settings import Settings


@pytest.fixture
def client(engine):
    settings = Settings(_env_file=None, fresh_minutes=30, stale_minutes=180)
    with TestClient(create_app(settings, engine)) as client:
        yield client


def reading(session, count):
    handle(
        session,
        protocol.topic("dial-01", "state"),
        protocol.encode_state(1, 1, "occupied", 1, [(count, 20)]),
        4096,
    )
    session.commit()


def test_list_shows_programs_with_availability_and_freshness(client, session, site):
    reading(session, 12)
    body = client.get("/api/v1/shelters").json()
    [item] = body["items"]
    assert (item["name"], item["capacity"], item["occupied"], item["available"]) == (
        "Maple House",
        20,
        12,
        8,
    )
    assert item["freshness"] == "fresh" and item["updated_at"] == body["updated_at"]
    [program] = item["programs"]
    assert (program["sector"], program["available"], program["accepting"]) == ("men", 8, True)


def test_a_site_without_readings_is_unknown(client, site):
    [item] = client.get("/api/v1/shelters").json()["items"]
    assert (item["occupied"], item["available"], item["freshness"]) == (None, None, "unknown")


@pytest.mark.parametrize(
    ("age_minutes", "expected"), [(29, "fresh"), (31, "aging"), (181, "stale")]
)
def test_freshness_follows_the_age_of_the_reading(client, session, site, age_minutes, expected):
    reading(session, 3)
    row = session.exec(select(CurrentState)).one()
    row.updated_at = row.updated_at - timedelta(minutes=age_minutes)
    session.add(row)
    session.commit()
    assert client.get(f"/api/v1/shelters/{site.id}").json()["freshness"] == expected


def test_an_offline_device_makes_its_numbers_unknown(client, session, site):
    reading(session, 3)
    device = session.get(Device, "dial-01")
    device.status = "lost"
    session.add(device)
    session.commit()
    assert client.get(f"/api/v1/shelters/{site.id}").json()["freshness"] == "unknown"


def test_confidential_sites_are_not_listed_publicly(client, session, site):
    hidden = Site(name="Safe Haven", lat=43.7, lon=-79.4, confidential=True)
    session.add(hidden)
    session.flush()
    session.add(Program(site_id=hidden.id, name="Women", sector=Sector.women, capacity=10))
    session.commit()
    names = [s["name"] for s in client.get("/api/v1/shelters").json()["items"]]
    assert names == ["Maple House"]
    assert client.get(f"/api/v1/shelters/{hidden.id}").status_code == 404
    geojson = client.get("/api/v1/exports/shelters.geojson").json()
    assert [f["properties"]["name"] for f in geojson["features"]] == ["Maple House"]


def test_errors_share_one_shape(client):
    missing = client.get("/api/v1/shelters/999")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no shelter with id 999"}}
    bad = client.get("/api/v1/shelters/abc")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    assert "site_id" in bad.json()["error"]["message"]
    nowhere = client.get("/api/v1/nothing-here")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"


def test_geojson_export_follows_rfc_7946(client, session, site):
    reading(session, 12)
    response = client.get("/api/v1/exports/shelters.geojson")
    assert response.headers["content-type"] == "application/geo+json"
    [feature] = response.json()["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [-79.38, 43.65]}
    assert feature["properties"]["available"] == 8


def test_the_map_page_and_its_assets_are_served_locally(client):
    page = client.get("/").text
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/live.js").status_code == 200


def test_openapi_is_3_1(client):
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
