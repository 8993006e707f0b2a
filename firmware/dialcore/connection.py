"""The long-press connection screen: what a volunteer on the phone asks for.

A module of its own, imported at the first long press (board/start.py): a dial nobody
long-presses keeps the heap (tests/firmware/dialcore: the heap test).
"""

from .clock import ticks_ms
from .display import _minutes


def details(app, wifi, broker, rssi=None, now=None):
    """Lines for the long-press connection screen: what a volunteer on the phone asks for."""
    now = ticks_ms() if now is None else now
    store = app.store
    link = "online" if app.connected else "OFFLINE " + _minutes(app.offline_ms(now))
    signal = "" if rssi is None else " " + str(rssi) + "dBm"
    return [
        "id " + app.device_id,
        "wifi " + wifi + signal,
        "mqtt " + broker,
        link,
        "boot " + str(store.boot) + " seq " + str(store.seq) + " ack " + str(store.acked_seq),
        "config v" + str(app.config["version"]),
    ]
