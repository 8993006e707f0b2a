"""/metrics of an API process: who may read it, the fleet from the database, stream clients;
and in one process with the ingestor (`shelter-signal run`), the ingestor's metrics too."""

import uuid

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from server.models import Device, utcnow
from tests.support.stack import Stack, settings_for


def samples(text: str) -> dict[tuple, float]:
    """(name, labels...) -> value of every sample in a Prometheus text answer."""
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_need_a_city_key(client, headers):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=headers["outreach"]).status_code == 403
    answer = client.get("/metrics", headers=headers["city"])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST  # Prometheus text format


def test_devices_are_counted_by_status_from_the_database(client, headers, site, session):
    def devices() -> dict[str, float]:
        found = samples(client.get("/metrics", headers=headers["city"]).text)
        return {s: found[("signal_devices", ("status", s))] for s in ("online", "unknown")}

    assert devices() == {"online": 0, "unknown": 1}
    device = session.get(Device, "dial-01")
    device.status, device.status_at = "online", utcnow()
    session.add(device)
    session.commit()
    assert devices() == {"online": 1, "unknown": 0}


def test_event_stream_clients_are_counted_while_connected(client, headers):
    def clients() -> float:
        found = samples(client.get("/metrics", headers=headers["city"]).text)
        return found[("signal_sse_clients",)]

    before = clients()
    broadcaster = client.app.state.broadcaster
    queue = broadcaster.subscribe()
    assert clients() == before + 1
    broadcaster.unsubscribe(queue)
    broadcaster.unsubscribe(queue)  # the stream's own cleanup after a drop: counted once
    assert clients() == before


def test_an_api_process_alone_shows_no_ingest_metrics(client, headers):
    text = client.get("/metrics", headers=headers["city"]).text
    assert "signal_sse_clients" in text
    assert "signal_ingest_" not in text


def test_one_process_with_the_ingestor_shows_its_metrics_at_the_api(tmp_path, mosquitto):
    settings = settings_for(f"sqlite:///{tmp_path / 'run.db'}", mosquitto.url)
    key = uuid.uuid4().hex
    settings = settings.model_copy(update={"admin_api_key": SecretStr(key)})
    with Stack(settings) as stack:
        answer = httpx.get(f"{stack.http}/metrics", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    found = samples(answer.text)
    assert ("signal_ingest_broker_connected",) in found
    assert ("signal_sse_clients",) in found
