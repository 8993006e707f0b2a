"""Firmware over the API: admins roll releases out and stop them; city staff follow the fleet."""

import pytest
from sqlmodel import select

from server.models import Device

ROLLOUTS = "/api/v1/firmware/rollouts"


@pytest.fixture
def dials(session, site):
    session.add_all(Device(id=f"desk-{n:02d}", site_id=site.id) for n in range(20))
    session.commit()


def test_an_admin_rolls_out_to_a_list_and_city_staff_see_it(client, headers, dials, release):
    done = client.post(
        ROLLOUTS,
        json={"version": release, "devices": ["desk-03", "dial-01"]},
        headers=headers["admin"],
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"version": release, "devices": ["desk-03", "dial-01"]}
    seen = client.get("/api/v1/firmware", headers=headers["city"])
    assert seen.status_code == 200, seen.text
    [listed] = seen.json()["releases"]
    assert listed["version"] == release and len(listed["files"]) == 4
    assert listed["size"] == sum(f["size"] for f in listed["files"])
    devices = {d["id"]: d for d in seen.json()["devices"]}
    assert devices["desk-03"]["target_firmware"] == release
    assert devices["desk-04"]["target_firmware"] is None
    assert set(devices["dial-01"]) == {
        "id",
        "status",
        "firmware",
        "target_firmware",
        "update_version",
        "update_state",
        "update_reason",
        "update_at",
    }
    one = client.get("/api/v1/devices/dial-01", headers=headers["city"]).json()
    assert (one["target_firmware"], one["update_state"]) == (release, None)


def test_a_percentage_rollout_is_stable_and_stop_withdraws_it(
    client, headers, session, dials, release
):
    admin = headers["admin"]
    first = client.post(ROLLOUTS, json={"version": release, "percent": 30}, headers=admin).json()
    again = client.post(ROLLOUTS, json={"version": release, "percent": 30}, headers=admin).json()
    assert first == again and 0 < len(first["devices"]) < 21
    running = first["devices"][0]
    session.get(Device, running).firmware = release
    session.commit()
    stopped = client.delete(f"{ROLLOUTS}/{release}", headers=admin)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {
        "version": release,
        "withdrawn": first["devices"][1:],
        "running": [running],
    }
    session.expire_all()
    assert session.exec(select(Device).where(Device.target_firmware.is_not(None))).all() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": "9.9.9", "devices": ["dial-01"]}, "version: no release 9.9.9"),
        ({"version": "0.2.0", "devices": ["dial-01", "nobody"]}, "devices: no device nobody"),
        ({"version": "0.2.0", "devices": ["Bad Id"]}, "devices.0: String should match"),
        ({"version": "0.2.0", "percent": 0}, "percent: Input should be greater than or equal to 1"),
        ({"version": "0.2.0", "percent": 5, "devices": ["dial-01"]}, "give either devices or"),
        ({"version": "0.2.0"}, "give either devices or percent"),
    ],
)
def test_a_rollout_that_cannot_be_made_is_a_clear_422(
    client, headers, site, release, body, message
):
    answer = client.post(ROLLOUTS, json=body, headers=headers["admin"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"].startswith(message), answer.text


def test_unknown_releases_are_404(client, headers, site, release):
    assert client.delete(f"{ROLLOUTS}/9.9.9", headers=headers["admin"]).status_code == 404
    assert client.get("/api/v1/firmware/releases/9.9.9", headers=headers["city"]).status_code == 404
    found = client.get(f"/api/v1/firmware/releases/{release}", headers=headers["city"])
    assert found.status_code == 200 and found.json()["version"] == release


@pytest.mark.parametrize("role", ["public", "outreach", "city"])
def test_only_admins_change_rollouts(client, headers, site, release, role):
    body = {"version": release, "devices": ["dial-01"]}
    expected = 401 if role == "public" else 403
    assert client.post(ROLLOUTS, json=body, headers=headers[role]).status_code == expected
    assert client.delete(f"{ROLLOUTS}/{release}", headers=headers[role]).status_code == expected


@pytest.mark.parametrize(("role", "status"), [("public", 401), ("outreach", 403), ("city", 200)])
def test_city_staff_and_admins_read_the_fleets_firmware(client, headers, site, role, status):
    assert client.get("/api/v1/firmware", headers=headers[role]).status_code == status
