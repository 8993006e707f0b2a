"""The dial's application: commit to flash, publish, wait for the server's ack, apply config.

The transport below is a test double for the network only (the interface in app.py's
docstring); the real MQTT path is covered in tests/e2e.
"""

import asyncio
import json
import pathlib

from firmware.dialcore import display, protocol
from firmware.dialcore.app import App
from firmware.dialcore.store import Store
from tests.support import aio
from tests.support.waiting import scaled

DEVICE = "desk-01"


class RecordingTransport:
    """Records what the app sends; `disk` is the store file's pending commit at each publish."""

    def __init__(self, store_path=None):
        self.connected = False
        self.store_path = store_path
        self.calls = []  # (method, args) in order
        self.disk = []  # store file's "pending" when each publish was called
        self.on_up = self.on_down = None

    async def connect(self, will, on_message, on_up, on_down):
        self.calls.append(("connect", will))
        self.on_up, self.on_down = on_up, on_down
        self.connected = True
        await on_up()

    async def publish(self, topic, payload, retain, qos):
        if not self.connected:
            raise OSError("not connected")
        if self.store_path:
            self.disk.append(json.loads(pathlib.Path(self.store_path).read_text())["pending"])
        self.calls.append(("publish", (topic, payload, retain, qos)))

    async def subscribe(self, topic, qos):
        self.calls.append(("subscribe", (topic, qos)))

    async def disconnect(self):
        self.calls.append(("disconnect", ()))
        self.connected = False

    def published(self, suffix):
        """[(payload as dict, retain, qos)] sent to signal/v1/<device>/<suffix>."""
        name = protocol.topic(DEVICE, suffix)
        return [
            (json.loads(payload), retain, qos)
            for method, args in self.calls
            if method == "publish"
            for topic, payload, retain, qos in [args]
            if topic == name
        ]


def make_app(tmp_path, transport=None, **options):
    path = str(tmp_path / "state.json")
    options = {"shelter": "Maple House", "labels": ("Beds",), "capacities": (20,), **options}
    return App(DEVICE, Store(path), transport or RecordingTransport(path), **options)


def ack(app, boot, seq, result="saved", reason=None):
    app.on_message(protocol.topic(DEVICE, "ack"), protocol.encode_ack(boot, seq, result, reason))


def config(app, version, channels, shelter="Maple House", mode="occupied"):
    payload = protocol.encode_config(version, shelter, mode, channels)
    app.on_message(protocol.topic(DEVICE, "config"), payload)


async def until(condition, timeout=2.0):
    for _ in range(int(scaled(timeout) / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"condition not met within {scaled(timeout):g} s")


def run_with(app, scenario):
    """Run the app's loops, then `await scenario()`, then stop them."""

    async def main():
        task = asyncio.create_task(app.run())
        try:
            await until(lambda: app.transport.connected)
            await scenario()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    aio.run(main())


def state_payload(boot, seq, counts_caps, config_version=0, mode="occupied"):
    return {
        "v": 1,
        "boot": boot,
        "seq": seq,
        "ts": None,
        "mode": mode,
        "config_version": config_version,
        "source": "dial",
        "channels": [{"count": c, "capacity": cap} for c, cap in counts_caps],
    }


def test_a_press_is_on_flash_before_it_is_published_retained_at_qos_1(tmp_path):
    app = make_app(tmp_path)
    link = app.transport

    async def scenario():
        assert link.calls[0] == (
            "connect",
            (
                "signal/v1/desk-01/status",
                protocol.encode_status("lost", 1, "0.1.0", 0),
                True,
                1,
            ),
        )
        assert ("subscribe", ("signal/v1/desk-01/ack", 1)) in link.calls
        assert ("subscribe", ("signal/v1/desk-01/config", 1)) in link.calls
        assert link.published("status")[-1][0]["state"] == "online"
        assert link.published("state") == []  # nothing committed yet

        app.turn(3)
        app.press()
        assert app.store.seq == 1 and app.store.pending["seq"] == 1
        await until(lambda: link.published("state"))

    run_with(app, scenario)
    assert link.published("state") == [(state_payload(1, 1, [(3, 20)]), True, 1)]
    assert link.disk[-1] == {"boot": 1, "seq": 1, "ts": None, "counts": [3]}
    assert display.state(app) == display.SENDING


def test_the_ack_for_the_pending_commit_shows_saved(tmp_path):
    app = make_app(tmp_path)

    async def scenario():
        app.turn(2)
        app.press()
        await until(lambda: app.transport.published("state"))
        ack(app, 1, 1)

    run_with(app, scenario)
    assert app.store.pending is None and app.store.acked_seq == 1
    assert display.state(app) == display.SAVED
    on_disk = Store(app.store.path).load()
    assert (on_disk.pending, on_disk.acked_seq, on_disk.counts) == (None, 1, [2])


def test_acks_for_older_commits_other_boots_or_other_dials_are_ignored(tmp_path):
    app = make_app(tmp_path)
    app.transport.connected = True
    app.turn(1)
    app.press()
    app.turn(1)
    app.press()
    assert app.store.pending["seq"] == 2

    ack(app, 1, 1)  # the first commit's ack arrives after the second commit
    ack(app, 2, 2)  # right seq, wrong boot
    app.on_message("signal/v1/desk-02/ack", protocol.encode_ack(1, 2, "saved"))
    app.on_message(protocol.topic(DEVICE, "ack"), b"not json")  # logged and ignored
    assert app.store.pending["seq"] == 2 and app.store.acked_seq is None
    assert display.state(app) == display.SENDING

    ack(app, 1, 2)
    assert app.store.pending is None and display.state(app) == display.SAVED


def test_a_rejection_shows_not_saved_with_the_reason(tmp_path):
    app = make_app(tmp_path)
    app.transport.connected = True
    app.press()
    ack(app, 1, 1, "rejected", "channel 0 is not paired with a program")
    assert app.store.pending is None and app.store.acked_seq is None
    assert display.state(app) == display.REJECTED
    assert display.screen(app)["state_text"] == "NOT SAVED: channel 0 is not paired with a program"

    app.press()  # the next commit clears it
    assert display.state(app) == display.SENDING


def test_a_newer_config_is_applied_and_a_shrunk_capacity_commits_the_clamped_count(tmp_path):
    app = make_app(tmp_path)
    link = app.transport

    async def scenario():
        app.turn(15)
        app.press()
        await until(lambda: link.published("state"))
        ack(app, 1, 1)
        config(app, 2, [("Men", 10), ("Youth", 8)], shelter="Oak House", mode="free")
        await until(lambda: len(link.published("state")) == 2)

    run_with(app, scenario)
    assert app.config["version"] == 2 and app.labels == ["Men", "Youth"]
    assert app.dial.capacities == [10, 8] and app.dial.counts == [10, 0]
    assert app.store.seq == 2 and app.store.pending["counts"] == [10, 0]
    assert link.published("state")[-1] == (
        state_payload(1, 2, [(10, 10), (0, 8)], config_version=2, mode="free"),
        True,
        1,
    )
    assert link.published("status")[-1][0]["config_version"] == 2  # tells which is applied
    screen = display.screen(app)
    assert (screen["title"], screen["label"], screen["detail"]) == (
        "Oak House",
        "Men 1/2",
        "of 10  10 free",
    )
    on_disk = Store(app.store.path).load()
    assert on_disk.config["channels"] == [("Men", 10), ("Youth", 8)]


def test_a_config_that_fits_the_counts_commits_nothing(tmp_path):
    app = make_app(tmp_path)
    app.turn(5)
    app.press()
    ack(app, 1, 1)
    config(app, 1, [("Beds", 30)])
    assert app.dial.capacities == [30] and app.store.seq == 1 and app.store.pending is None


def test_an_older_or_equal_config_version_is_ignored(tmp_path):
    app = make_app(tmp_path)
    config(app, 3, [("Men", 40)])
    for version in (3, 2):
        config(app, version, [("Other", 5)], shelter="Elsewhere")
        assert app.config["version"] == 3 and app.labels == ["Men"]
        assert app.dial.capacities == [40] and app.config["shelter"] == "Maple House"
    assert Store(app.store.path).load().config["version"] == 3


def test_a_reconnection_replays_the_pending_commit(tmp_path):
    app = make_app(tmp_path)
    link = app.transport

    async def scenario():
        app.press()
        await until(lambda: len(link.published("state")) == 1)
        link.connected = False  # the link drops; the transport reports it
        link.on_down()
        app.turn(4)
        app.press()
        await asyncio.sleep(0.02)
        assert len(link.published("state")) == 1  # nothing sent while offline
        assert display.state(app) == display.OFFLINE
        link.connected = True
        await link.on_up()
        await until(lambda: len(link.published("state")) == 2)

    run_with(app, scenario)
    assert link.published("state")[-1][0] == state_payload(1, 2, [(4, 20)])
    assert [s["state"] for s, _, _ in link.published("status")] == ["online", "online"]
    assert display.state(app) == display.SENDING


def test_after_a_reboot_the_counts_are_kept_and_the_pending_commit_is_replayed(tmp_path):
    before = make_app(tmp_path)
    before.transport.connected = True
    config(before, 2, [("Men", 40), ("Youth", 8)])
    before.turn(12)
    before.press()
    before.turn(3)
    before.press()  # (1, 2) is never acknowledged: power cut

    app = make_app(tmp_path)  # same store file, new transport
    assert app.store.boot == 2 and app.store.seq == 2
    assert app.dial.counts == [12, 3] and app.labels == ["Men", "Youth"]
    assert app.store.pending == {"boot": 1, "seq": 2, "ts": None, "counts": [12, 3]}
    link = app.transport

    async def scenario():
        await until(lambda: link.published("state"))
        ack(app, 1, 2)
        app.press()
        await until(lambda: len(link.published("state")) == 2)

    run_with(app, scenario)
    replayed, new = link.published("state")
    assert replayed == (state_payload(1, 2, [(12, 40), (3, 8)], config_version=2), True, 1)
    assert (new[0]["boot"], new[0]["seq"]) == (2, 3)  # numbering goes on after the reboot
    assert link.published("status")[0][0]["boot"] == 2
