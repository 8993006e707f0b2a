"""The long-press connection screen (firmware/dialcore/connection.py)."""

from firmware.dialcore.connection import details
from tests.firmware.dialcore.test_display import online_app


def test_the_long_press_details_say_how_the_dial_is_connected(tmp_path):
    app = online_app(tmp_path)
    app.store.boot, app.store.seq, app.store.acked_seq = 3, 17, 16
    lines = details(app, "Shelter-WiFi", "10.0.0.5:1883", -61)
    assert lines == [
        f"id {app.device_id}",
        "wifi Shelter-WiFi -61dBm",
        "mqtt 10.0.0.5:1883",
        "online",
        "boot 3 seq 17 ack 16",
        "config v0",
    ]
    app.transport.connected = False
    app.offline_since = 0
    offline = details(app, "Shelter-WiFi", "10.0.0.5:1883", now=1000)
    assert offline[1:4] == ["wifi Shelter-WiFi", "mqtt 10.0.0.5:1883", "OFFLINE <1 min"]
