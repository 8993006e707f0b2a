"""Liveness and readiness against a real broker that stops and starts, and a database that
cannot be reached."""

import pytest
from fastapi.testclient import TestClient

from server.api.main import create_app
from server.api.routes.health import BrokerCheck
from server.db import make_engine
from tests.hardware.mosquitto_setup import SERVER_PASSWORD, GuideBroker
from tests.support.services import Mosquitto, free_port


@pytest.fixture
def broker():
    """A broker of this test's own: it is stopped mid-test."""
    with Mosquitto() as broker:
        yield broker


def app_on(engine, settings, broker_url, broker_check=None):
    app = create_app(settings.model_copy(update={"mqtt_url": broker_url}), engine)
    if broker_check:
        app.state.broker_check = broker_check
    return TestClient(app)


def test_ready_names_the_broker_while_it_is_down_and_recovers(engine, settings, broker):
    with app_on(engine, settings, broker.url, BrokerCheck(cache_s=0)) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
        answer = client.get("/api/v1/ready")
        assert (answer.status_code, answer.json()["database"], answer.json()["broker"]) == (
            200,
            "ok",
            "ok",
        )
        broker.stop()
        answer = client.get("/api/v1/ready")
        assert answer.status_code == 503
        error = answer.json()["error"]
        assert error["code"] == "unavailable"
        assert error["message"].startswith("not ready: broker: unreachable")
        assert "database" not in error["message"]
        assert client.get("/api/v1/health").status_code == 200  # alive all the same
        broker.start()
        assert client.get("/api/v1/ready").status_code == 200


def test_a_recent_broker_check_is_reused(engine, settings, broker):
    with app_on(engine, settings, broker.url, BrokerCheck(cache_s=3600)) as client:
        assert client.get("/api/v1/ready").status_code == 200
        broker.stop()  # within the cache's life: no new login is tried
        assert client.get("/api/v1/ready").status_code == 200


def test_an_unreachable_database_makes_the_api_not_ready(settings, mosquitto):
    nowhere = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    try:
        with app_on(nowhere, settings, mosquitto.url) as client:
            assert client.get("/api/v1/health").status_code == 200
            answer = client.get("/api/v1/ready")
            assert answer.status_code == 503
            assert answer.json()["error"]["message"] == (
                "not ready: database: unreachable (OperationalError)"
            )
    finally:
        nowhere.dispose()


def test_without_a_broker_url_only_the_database_is_checked(engine, settings):
    with app_on(engine, settings, None) as client:
        assert client.get("/api/v1/ready").json() == {
            "status": "ready",
            "database": "ok",
            "broker": "not used",
        }


def test_ready_logs_in_as_configured_and_names_a_refused_login(engine, settings, tmp_path):
    """Against the production broker (accounts, TLS): the right account over TLS is ready,
    a wrong password is named as a refused login, not as an unreachable broker."""
    with GuideBroker(tmp_path / "passwd") as broker:
        settings = settings.model_copy(update={"mqtt_ca_file": broker.ca_file})
        with app_on(engine, settings, broker.tls_url, BrokerCheck(cache_s=0)) as client:
            assert client.get("/api/v1/ready").status_code == 200
        wrong = broker.tls_url.replace(f":{SERVER_PASSWORD}@", ":wrong@")
        with app_on(engine, settings, wrong, BrokerCheck(cache_s=0)) as client:
            answer = client.get("/api/v1/ready")
        assert answer.status_code == 503
        assert answer.json()["error"]["message"].startswith("not ready: broker: refused the login")
