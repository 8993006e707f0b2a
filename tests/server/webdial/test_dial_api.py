"""The web dial's API against a real broker and ingestor: a web save takes a dial's path."""

import httpx
from sqlmodel import Session, select

from server.models import CurrentState, DeadLetter, Device, Reading
from server.webdial.lockout import MAX_FAILURES
from tests.server.webdial.webapp import Dials, WebApp, ingestor_down
from tests.support.stack import Stack, settings_for
from tests.support.waiting import scaled


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _commit(web, device_id, secret, counts):
    return httpx.post(
        f"{web.url}/api/v1/dial/{device_id}/commits",
        json={"counts": counts},
        headers=_auth(secret),
        timeout=scaled(30),
    )


def _repeat(web, device_id, secret, commit):
    return httpx.put(
        f"{web.url}/api/v1/dial/{device_id}/commits/{commit['boot']}/{commit['seq']}",
        json={"counts": commit["counts"], "ts": commit["ts"]},
        headers=_auth(secret),
        timeout=scaled(30),
    )


def _readings(stack, device_id):
    with Session(stack.system.engine) as session:
        return session.exec(
            select(Reading).where(Reading.device_id == device_id).order_by(Reading.id)
        ).all()


def test_a_web_save_is_stored_as_a_web_reading_and_acknowledged(stack, web, dials):
    device_id, secret = dials.add(capacities=(20,))
    view = httpx.get(f"{web.url}/api/v1/dial/{device_id}", headers=_auth(secret)).json()
    assert view["mode"] == "occupied"
    assert [(c["label"], c["capacity"], c["count"]) for c in view["channels"]] == [
        ("Room 1", 20, None)
    ]

    answer = _commit(web, device_id, secret, [7])

    assert answer.status_code == 200
    commit = answer.json()
    assert (commit["result"], commit["reason"], commit["counts"]) == ("saved", None, [7])
    [reading] = _readings(stack, device_id)
    assert (reading.boot, reading.seq) == (commit["boot"], commit["seq"])
    assert (reading.source, reading.occupied, reading.capacity) == ("web", 7, 20)
    assert reading.device_ts.timestamp() == commit["ts"]
    channel = httpx.get(f"{web.url}/api/v1/dial/{device_id}", headers=_auth(secret)).json()
    assert (channel["channels"][0]["count"], channel["channels"][0]["freshness"]) == (7, "fresh")


def test_free_mode_counts_free_places_on_every_channel(stack, web, dials):
    device_id, secret = dials.add(capacities=(20, 6), mode="free")

    answer = _commit(web, device_id, secret, [5, 2])

    assert answer.json()["result"] == "saved"
    assert [(r.channel, r.occupied, r.capacity) for r in _readings(stack, device_id)] == [
        (0, 15, 20),
        (1, 4, 6),
    ]
    view = httpx.get(f"{web.url}/api/v1/dial/{device_id}", headers=_auth(secret)).json()
    assert [c["count"] for c in view["channels"]] == [5, 2]


def test_a_wrong_or_missing_secret_is_refused(stack, web, dials):
    device_id, _secret = dials.add()
    _other_id, other_secret = dials.add()

    wrong = _commit(web, device_id, other_secret, [3])
    missing = httpx.get(f"{web.url}/api/v1/dial/{device_id}")
    unknown = httpx.get(f"{web.url}/api/v1/dial/web-nobody", headers=_auth(other_secret))

    for answer in (wrong, missing, unknown):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
    assert wrong.json()["error"]["message"] == f"no dial {device_id} with this secret"
    assert _readings(stack, device_id) == []


def test_a_hardware_dial_takes_no_web_counts(web, dials):
    device_id, secret = dials.add(prefix="desk-")

    answer = _commit(web, device_id, secret, [3])

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


def test_an_impossible_count_is_rejected_with_the_ingestors_reason(stack, web, dials):
    device_id, secret = dials.add(capacities=(20,))

    above = _commit(web, device_id, secret, [21]).json()
    negative = _commit(web, device_id, secret, [-1]).json()

    assert (above["result"], above["reason"]) == (
        "rejected",
        "count 21 above capacity 20 on channel 0",
    )
    assert (negative["result"], negative["reason"]) == (
        "rejected",
        "state.channels[0].count: -1 is less than the minimum of 0",
    )
    with Session(stack.system.engine) as session:
        letters = session.exec(
            select(DeadLetter.reason).where(DeadLetter.topic == f"signal/v1/{device_id}/state")
        ).all()
    assert sorted(letters) == sorted([above["reason"], negative["reason"]])
    assert _readings(stack, device_id) == []


def test_counts_must_match_the_channels(web, dials):
    device_id, secret = dials.add(capacities=(20, 6))

    answer = _commit(web, device_id, secret, [3])

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].endswith(f"counts: {device_id} has 2 channels, got 1 counts")


def test_repeating_a_commit_stores_it_once_and_confirms_it_again(stack, web, dials):
    device_id, secret = dials.add()
    first = _commit(web, device_id, secret, [3]).json()

    again = _repeat(web, device_id, secret, first)
    never = _repeat(web, device_id, secret, {**first, "seq": first["seq"] + 5})

    assert again.status_code == 200
    assert again.json() == first
    assert len(_readings(stack, device_id)) == 1
    assert never.status_code == 404
    assert never.json()["error"]["code"] == "not_found"


def test_a_commit_the_ingestor_has_not_confirmed_is_pending_until_repeated(stack, web, dials):
    device_id, secret = dials.add()
    with ingestor_down(stack):
        answer = _commit(web, device_id, secret, [4])
        assert answer.status_code == 202
        pending = answer.json()
        assert (pending["result"], pending["reason"], pending["code"]) == (
            "pending",
            "no answer from the server yet",
            "no_answer",  # what the page says in its reader's language
        )
        assert _readings(stack, device_id) == []

    again = _repeat(web, device_id, secret, pending)

    assert again.status_code == 200
    assert again.json()["result"] == "saved"
    assert [r.occupied for r in _readings(stack, device_id)] == [4]


def test_numbering_goes_on_after_the_api_restarts(stack, dials):
    device_id, secret = dials.add()
    before = WebApp(stack)
    first = _commit(before, device_id, secret, [2]).json()
    before.stop()

    after = WebApp(stack)
    try:
        second = _commit(after, device_id, secret, [5]).json()
        repeat_of_first = _repeat(after, device_id, secret, first).json()
    finally:
        after.stop()

    assert (second["boot"], second["seq"]) == (first["boot"] + 1, first["seq"] + 1)
    assert second["result"] == repeat_of_first["result"] == "saved"
    assert [(r.boot, r.seq, r.occupied) for r in _readings(stack, device_id)] == [
        (first["boot"], first["seq"], 2),
        (second["boot"], second["seq"], 5),
    ]
    with Session(stack.system.engine) as session:
        [current] = session.exec(
            select(CurrentState).where(CurrentState.device_id == device_id)
        ).all()
        assert current.occupied == 5
        assert session.get(Device, device_id).boot == second["boot"]


def test_a_broker_out_of_reach_leaves_the_commit_pending(stack, dials):
    device_id, secret = dials.add()
    nowhere = WebApp(stack, mqtt_url="mqtt://127.0.0.1:1")  # port 1: nothing listens there
    try:
        answer = _commit(nowhere, device_id, secret, [2])
    finally:
        nowhere.stop()

    assert answer.status_code == 202
    assert answer.json()["reason"] == "the server cannot reach its message broker"
    assert answer.json()["code"] == "broker_unreachable"
    assert _readings(stack, device_id) == []


def test_too_many_wrong_secrets_pause_the_dial_for_that_client(web, dials):
    device_id, secret = dials.add()
    for _ in range(MAX_FAILURES):
        assert _commit(web, device_id, "guess", [1]).status_code == 401

    answer = _commit(web, device_id, secret, [1])

    assert answer.status_code == 429
    assert answer.json()["error"]["message"].startswith(f"too many wrong secrets for {device_id}")


def test_a_web_save_goes_through_the_embedded_broker_too(tmp_path):
    """`make run` uses the embedded broker (amqtt), not Mosquitto."""
    with Stack(settings_for(f"sqlite:///{tmp_path / 'embedded.db'}", None)) as embedded:
        web = WebApp(embedded)
        try:
            device_id, secret = Dials(embedded).add(capacities=(40,))
            saved = _commit(web, device_id, secret, [31]).json()
            rejected = _commit(web, device_id, secret, [41]).json()
        finally:
            web.stop()
        readings = _readings(embedded, device_id)

    assert (saved["result"], rejected["result"]) == ("saved", "rejected")
    assert [(r.seq, r.occupied, r.source) for r in readings] == [(saved["seq"], 31, "web")]
