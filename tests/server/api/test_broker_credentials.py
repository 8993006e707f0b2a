"""Rotating a dial's secret also changes its entry in the broker's password file."""

from fastapi.testclient import TestClient

from server.api.main import create_app
from server.credentials import verify
from server.models import Device


def rotate(engine, settings, headers_for_admin):
    with TestClient(create_app(settings, engine)) as client:
        return client.post("/api/v1/devices/dial-01/credentials", headers=headers_for_admin)


def test_a_new_secret_goes_into_the_mosquitto_password_file(
    engine, session, site, settings, tmp_path
):
    passwd = tmp_path / "mosquitto" / "passwd"
    answer = rotate(
        engine,
        settings.model_copy(update={"mosquitto_passwd_file": passwd}),
        {"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
    )
    assert answer.status_code == 200, answer.text
    secret = answer.json()["secret"]
    [entry] = passwd.read_text().splitlines()
    assert entry.startswith("dial-01:") and secret not in entry  # Mosquitto's own hash
    session.expire_all()
    assert verify(secret, session.get(Device, "dial-01").secret_hash)


def test_when_the_broker_file_cannot_be_written_nothing_changes(
    engine, session, site, settings, tmp_path
):
    before = session.get(Device, "dial-01").secret_hash
    answer = rotate(
        engine,
        settings.model_copy(update={"mosquitto_passwd_file": tmp_path}),  # a folder, not a file
        {"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
    )
    assert answer.status_code == 503
    assert answer.json()["error"]["message"].startswith("broker credentials not updated")
    session.expire_all()
    assert session.get(Device, "dial-01").secret_hash == before
