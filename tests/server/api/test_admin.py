"""Admins create and edit sites, programs and dials; dials learn of changes by config version."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from firmware.dialcore import protocol
from server.api.main import create_app
from server.credentials import verify
from server.ingest.handler import handle
from server.models import CurrentState, Device, DeviceChannel, Program
from tests.server.api.conftest import ADMIN_KEY


def test_an_admin_creates_a_site_and_its_program(client, headers):
    admin = headers["admin"]
    site = {
        "name": "Cedar Commons",
        "address": "5 Elm St",
        "lat": 43.7,
        "lon": -79.4,
        "phone": "416-555-0133",
        "intake_hours": "24/7",
        "intake_instructions": "Ring the side door.",
        "pets_allowed": True,
        "gender_served": "women",
        "min_age": 18,
        "confidential": True,
    }
    created = client.post("/api/v1/shelters", json=site, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in site} == site
    assert (body["programs"], body["capacity"], body["available"]) == ([], 0, None)
    program = client.post(
        f"/api/v1/shelters/{body['id']}/programs",
        json={"name": "Cedar women", "sector": "women", "capacity": 12, "out_of_service": 1},
        headers=admin,
    )
    assert program.status_code == 201, program.text
    assert program.json() | {"id": 0} == {
        "id": 0,
        "site_id": body["id"],
        "source_id": None,
        "name": "Cedar women",
        "sector": "women",
        "capacity_type": "beds",
        "capacity": 12,
        "out_of_service": 1,
        "accepting": True,
        "hold_minutes": None,
        "opens_with_alert": None,
        "window_start": None,
        "window_end": None,
        # from the site's "24/7", since the program was sent without its own
        "intake_schedule": [
            f"{d} 00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ],
        "occupied": None,
        "held": 0,
        "available": None,
        "updated_at": None,
        "freshness": "unknown",
        "is_open": True,
        "open_for": None,
        "open_until": None,
    }
    # confidential: the public does not see it
    assert client.get(f"/api/v1/shelters/{body['id']}").status_code == 404


def test_editing_changes_only_what_is_sent_and_null_clears(client, headers, site):
    admin = headers["admin"]
    url = f"/api/v1/shelters/{site.id}"
    client.patch(url, json={"phone": "416-555-0144", "couples_allowed": False}, headers=admin)
    edited = client.patch(url, json={"address": None}, headers=admin).json()
    assert (edited["name"], edited["phone"], edited["couples_allowed"]) == (
        "Maple House",
        "416-555-0144",
        False,
    )
    assert edited["address"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": None}, "name: Input should be a valid string"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"lat": None}, "lat and lon: give both or neither"),  # lon stays: a half point
        ({"min_age": 30, "max_age": 20}, "min_age is above max_age"),
        ({"lat": 91}, "lat: Input should be less than or equal to 90"),
        ({"gender_served": "robots"}, "gender_served: Input should be 'men', 'women' or 'any'"),
    ],
)
def test_a_site_edit_that_makes_no_sense_is_refused_by_name(client, headers, site, body, message):
    response = client.patch(f"/api/v1/shelters/{site.id}", json=body, headers=headers["admin"])
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_request", "message": message}


NUL = "\x00"  # valid JSON ("\u0000"); PostgreSQL cannot store it in text, SQLite would


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/shelters", {"name": f"Maple{NUL}House"}, "name"),
        ("PATCH", "/api/v1/shelters/{site}", {"intake_hours": f"24/7{NUL}"}, "intake_hours"),
        (
            "POST",
            "/api/v1/shelters/{site}/programs",
            {"name": f"Men{NUL}", "sector": "men", "capacity": 5},
            "name",
        ),
        ("POST", "/api/v1/api-keys", {"name": f"x{NUL}", "role": "city"}, "name"),
    ],
)
def test_a_nul_character_in_text_is_refused_by_name_on_each_database(
    engine_each_database, settings, method, path, body, field
):
    with TestClient(create_app(settings, engine_each_database)) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        site = client.post("/api/v1/shelters", json={"name": "Cedar"}, headers=admin).json()
        response = client.request(method, path.format(site=site["id"]), json=body, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {
            "code": "invalid_request",
            "message": f"{field}: must not contain a NUL character (U+0000)",
        }
        names = [s["name"] for s in client.get("/api/v1/shelters", headers=admin).json()["items"]]
        assert names == ["Cedar"]


def test_missing_things_are_404(client, headers):
    admin = headers["admin"]
    assert client.patch("/api/v1/shelters/99", json={}, headers=admin).status_code == 404
    assert client.patch("/api/v1/programs/99", json={}, headers=admin).status_code == 404
    program = {"name": "x", "sector": "men", "capacity": 1}
    assert client.post("/api/v1/shelters/99/programs", json=program, headers=admin).json() == {
        "error": {"code": "not_found", "message": "no shelter with id 99"}
    }
    assert client.get("/api/v1/devices/nobody", headers=admin).status_code == 404


def program_of(session, site):
    return session.exec(select(Program).where(Program.site_id == site.id)).one()


def config_version(session):
    session.expire_all()
    return session.get(Device, "dial-01").config_version


def test_out_of_service_and_accepting_show_in_availability(client, headers, site, session, count):
    program = program_of(session, site)
    count(program.id, 12)  # 8 free of 20
    url = f"/api/v1/programs/{program.id}"
    edited = client.patch(
        url, json={"out_of_service": 5, "accepting": False}, headers=headers["admin"]
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["available"], edited.json()["accepting"]) == (3, False)
    listed = client.get("/api/v1/shelters").json()["items"][0]
    assert (listed["available"], listed["programs"][0]["accepting"]) == (3, False)
    assert config_version(session) == 1  # the dial shows neither: its config is unchanged
    too_many = client.patch(url, json={"out_of_service": 21}, headers=headers["admin"])
    assert too_many.json()["error"]["message"] == "out_of_service is above capacity"


def test_what_a_dial_shows_bumps_its_config_version(client, headers, site, session):
    admin = headers["admin"]
    program = program_of(session, site)
    client.patch(f"/api/v1/programs/{program.id}", json={"capacity": 25}, headers=admin)
    assert config_version(session) == 2  # its channel's capacity
    client.patch(f"/api/v1/shelters/{site.id}", json={"name": "Maple Hall"}, headers=admin)
    assert config_version(session) == 3  # the shelter name on its screen
    client.patch(f"/api/v1/shelters/{site.id}", json={"phone": "416-555-0100"}, headers=admin)
    assert config_version(session) == 3  # not on its screen
    client.patch("/api/v1/devices/dial-01", json={"mode": "free"}, headers=admin)
    assert config_version(session) == 4


def test_an_admin_registers_a_dial_pairs_it_and_the_fleet_shows_it(client, headers, site, session):
    admin = headers["admin"]
    program = program_of(session, site)
    second = client.post(
        f"/api/v1/shelters/{site.id}/programs",
        json={"name": "Overflow", "sector": "mixed", "capacity": 6},
        headers=admin,
    ).json()
    # the first dial gives up its program, then a new dial counts both
    client.patch("/api/v1/devices/dial-01", json={"channels": []}, headers=admin)
    created = client.post(
        "/api/v1/devices",
        json={
            "id": "desk-02",
            "site_id": site.id,
            "mode": "free",
            "channels": [
                {"program_id": second["id"], "label": "Overflow"},
                {"program_id": program.id, "label": "Men"},
            ],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    fleet = client.get("/api/v1/devices", headers=headers["city"]).json()["items"]
    assert [d["id"] for d in fleet] == ["desk-02", "dial-01"]
    desk = fleet[0]
    assert desk["channels"] == [
        {"channel": 0, "program_id": second["id"], "label": "Overflow"},
        {"channel": 1, "program_id": program.id, "label": "Men"},
    ]
    assert (desk["mode"], desk["status"], desk["has_credentials"]) == ("free", "unknown", False)
    assert (desk["config_version"], desk["published_config_version"]) == (1, None)
    assert "secret_hash" not in desk


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"id": "dial-01", "site_id": 1}, 409, "device dial-01 exists already"),
        ({"id": "Bad Id", "site_id": 1}, 422, "id: String should match pattern"),
        ({"id": "desk-09", "site_id": 99}, 422, "site_id: no site with id 99"),
        (
            {"id": "desk-09", "site_id": 1, "channels": [{"program_id": 1, "label": "Men"}]},
            422,
            "channels: program 1 is already paired with dial-01",
        ),
        (
            {"id": "desk-09", "site_id": 1, "channels": [{"program_id": 1, "label": "x"}] * 2},
            422,
            "channels: a program can be paired with one channel only",
        ),
        (
            {"id": "desk-09", "site_id": 1, "channels": [{"program_id": 1, "label": "x" * 25}]},
            422,
            "channels.0.label: String should have at most 24 characters",
        ),
    ],
)
def test_a_dial_that_cannot_be_registered_says_why(client, headers, site, body, status, message):
    response = client.post("/api/v1/devices", json=body, headers=headers["admin"])
    assert response.status_code == status
    assert response.json()["error"]["message"].startswith(message)


def test_moving_a_dial_needs_programs_of_its_new_site(client, headers, site, session):
    admin = headers["admin"]
    other = client.post("/api/v1/shelters", json={"name": "Birch Place"}, headers=admin).json()
    moved = client.patch("/api/v1/devices/dial-01", json={"site_id": other["id"]}, headers=admin)
    assert moved.status_code == 422
    assert moved.json()["error"]["message"] == (
        f"channels: program {program_of(session, site).id} is not a program of site {other['id']}"
    )
    session.expire_all()
    assert session.get(Device, "dial-01").site_id == site.id  # nothing changed
    assert len(session.exec(select(DeviceChannel)).all()) == 1
    moved = client.patch(
        "/api/v1/devices/dial-01", json={"site_id": other["id"], "channels": []}, headers=admin
    )
    assert moved.status_code == 200 and moved.json()["site_id"] == other["id"]


def test_device_credentials_are_shown_once_and_rotate(client, headers, site, session):
    url = "/api/v1/devices/dial-01/credentials"
    first = client.post(url, headers=headers["admin"]).json()
    second = client.post(url, headers=headers["admin"]).json()
    assert first["device_id"] == "dial-01" and first["secret"] != second["secret"]
    session.expire_all()
    stored = session.get(Device, "dial-01").secret_hash
    assert verify(second["secret"], stored) and not verify(first["secret"], stored)
    shown = client.get("/api/v1/devices/dial-01", headers=headers["admin"]).json()
    assert shown["has_credentials"] is True and second["secret"] not in str(shown)


def test_a_device_sequence_reset_keeps_the_count_and_lets_any_next_number_win(
    client, headers, site, session
):
    state = protocol.encode_state(9, 40, "occupied", 1, [(6, 20)])
    handle(session, protocol.topic("dial-01", "state"), state, 4096)
    session.commit()
    answer = client.post("/api/v1/devices/dial-01/reset-sequence", headers=headers["admin"])
    assert answer.status_code == 200 and answer.json()["id"] == "dial-01"
    session.expire_all()
    current = session.exec(select(CurrentState)).one()
    assert (current.boot, current.seq, current.occupied) == (0, 0, 6)  # still shown
    later = protocol.encode_state(1, 1, "occupied", 1, [(3, 20)])  # a wiped board's first
    handle(session, protocol.topic("dial-01", "state"), later, 4096)
    session.commit()
    session.expire_all()
    assert session.exec(select(CurrentState)).one().occupied == 3
    refused = client.post("/api/v1/devices/nobody/reset-sequence", headers=headers["admin"])
    assert refused.status_code == 404


def test_an_admin_edits_intake_hours_and_bad_spans_are_refused(client, headers, city):
    program_id = city["Willow Place"]["women"]
    url = f"/api/v1/programs/{program_id}"
    night = ["fri 20:00-08:00", "sat 20:00-08:00"]
    edited = client.patch(url, json={"intake_schedule": night}, headers=headers["admin"])
    assert edited.status_code == 200, edited.text
    assert edited.json()["intake_schedule"] == night
    for bad in (["friday 20:00-08:00"], ["fri 8pm-8am"], ["fri 25:00-08:00"], "fri 20:00-08:00"):
        refused = client.patch(url, json={"intake_schedule": bad}, headers=headers["admin"])
        assert refused.status_code == 422, bad
    site = client.get(f"/api/v1/shelters/{city['Willow Place']['site']}").json()
    assert next(p for p in site["programs"] if p["id"] == program_id)["intake_schedule"] == night
