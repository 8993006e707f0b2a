"""The firmware's encoder and the server's JSON Schemas describe the same messages."""

import json

import pytest

from firmware.dialcore import protocol
from server.protocol import check

MESSAGES = {
    "state": protocol.encode_state(3, 17, "occupied", 2, [(12, 40), (0, 8)], 1767225600),
    "state-unsynced-web": protocol.encode_state(1, 1, "free", 0, [(5, 5)], None, "web"),
    "status": protocol.encode_status("online", 3, "0.1.0", 2),
    "telemetry": protocol.encode_telemetry(3600, "0.1.0", 1, 16, rssi=-67, free_heap=81234),
    "ack": protocol.encode_ack(3, 17, "saved"),
    "ack-newest-boot": protocol.encode_ack(1, 4, "saved", None, 12),
    "config": protocol.encode_config(2, "Maple House", "occupied", [("Men", 40), ("Youth", 8)]),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_what_the_firmware_writes_is_valid_under_the_schema(name):
    check(name.split("-")[0], json.loads(MESSAGES[name]))


def test_the_schema_refuses_what_the_firmware_must_never_write():
    message = json.loads(MESSAGES["state"])
    message["channels"][0]["count"] = -1
    with pytest.raises(ValueError, match=r"state\.channels\[0\]\.count: -1 is less than"):
        check("state", message)
    with pytest.raises(ValueError, match="Additional properties"):
        check("state", {**json.loads(MESSAGES["state"]), "extra": 1})


def test_server_messages_decode_on_the_device():
    assert protocol.decode_ack(MESSAGES["ack"]) == {
        "boot": 3,
        "seq": 17,
        "result": "saved",
        "reason": None,
        "newest_boot": None,
    }
    config = protocol.decode_config(MESSAGES["config"])
    assert config == {
        "version": 2,
        "shelter": "Maple House",
        "mode": "occupied",
        "channels": [("Men", 40), ("Youth", 8)],
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", "payload is not valid JSON"),
        (b"3", "payload is not a JSON object"),
        (b'{"v": 2}', "unsupported protocol version: 2"),
        (b'{"v": 1, "version": 0}', "config version must be a positive integer"),
        (
            b'{"v": 1, "version": 1, "shelter": "x", "mode": "occupied", '
            b'"channels": [{"label": "a"}]}',
            "config channel needs a label and a capacity >= 0",
        ),
    ],
)
def test_bad_server_messages_raise_a_reason(payload, reason):
    with pytest.raises(ValueError, match=reason):
        protocol.decode_config(payload)


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("signal/v1/desk-01/state", ("desk-01", "state")),
        ("signal/v1/a1b/config", ("a1b", "config")),
    ],
)
def test_topics_round_trip(topic, parsed):
    assert protocol.parse_topic(topic) == parsed
    assert protocol.topic(*parsed) == topic


@pytest.mark.parametrize(
    "topic",
    ["signal/v1/desk-01", "other/v1/desk-01/state", "signal/v1/-desk/state", "signal/v1/ab/state"],
)
def test_malformed_topics_are_refused(topic):
    with pytest.raises(ValueError):
        protocol.parse_topic(topic)
