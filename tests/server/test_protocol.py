"""The update messages' schemas (server/protocol/) take what the firmware's encoder writes,
and refuse what it must never write."""

import json

import pytest

from firmware.dialcore import protocol
from server.protocol import check

DIGEST = "0" * 64
MESSAGES = {
    "ota": protocol.encode_ota("0.2.0", [("dialcore/app.py", 14210, DIGEST)]),
    "ota-withdrawn": protocol.encode_ota(None, []),
    "fetch": protocol.encode_fetch("0.2.0", "board/led.py", 2 * protocol.CHUNK),
    "chunk": protocol.encode_chunk("0.2.0", "board/led.py", 0, bytes(range(256)) * 8),
    "chunk-empty": protocol.encode_chunk("0.2.0", "board/led.py", protocol.CHUNK, b""),
    "update": protocol.encode_update("0.2.0", "downloading"),
    "update-failed": protocol.encode_update("0.2.0", "failed", "x" * 200),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_what_the_firmware_writes_is_valid(name):
    check(name.split("-")[0], json.loads(MESSAGES[name]))


@pytest.mark.parametrize(
    ("suffix", "change", "message"),
    [
        ("ota", {"version": None}, "ota.files"),  # a withdrawal lists no files
        ("ota", {"files": []}, "ota.files"),  # an order lists at least one
        ("ota", {"files": [{"path": "main.py", "size": 1, "sha256": DIGEST}]}, "ota.files[0]"),
        ("fetch", {"offset": 100}, "fetch.offset"),
        ("fetch", {"path": "dialcore/../main.py"}, "fetch.path"),
        ("chunk", {"data": "A" * 2736}, "chunk.data"),
        ("update", {"state": "bricked"}, "update.state"),
        ("update", {"extra": 1}, "Additional properties"),
    ],
)
def test_what_must_never_be_written_is_refused(suffix, change, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check(suffix, {**json.loads(MESSAGES[suffix]), **change})
