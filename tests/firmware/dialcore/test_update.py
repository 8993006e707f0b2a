"""dialcore/update.py without a board: staging, checking, switching, confirming, going back.

A transport stand-in answers each `fetch` from a dict of files as the server's ingestor
would; the virtual dial (tests/firmware/test_update.py) runs the same code whole.
"""

import asyncio
import hashlib
import json
import os

import pytest

from firmware.dialcore import protocol
from firmware.dialcore import update as updates
from tests.support import aio
from tests.support.waiting import scaled

FILES = {"board/a.py": b"A = 1\n" * 700, "dialcore/b.py": b"", "dialcore/c.py": b"C = 3\n"}


def manifest(files, version="0.2.0"):
    return protocol.encode_ota(
        version, [(p, len(d), hashlib.sha256(d).hexdigest()) for p, d in sorted(files.items())]
    )


class Server:
    """The transport: answers fetches with chunks of `files` (or `served`, when they differ)."""

    def __init__(self, files, served=None):
        self.connected = True
        self.files = served or files
        self.updater = None
        self.reports = []
        self.fetches = 0

    async def publish(self, topic, payload, retain=False, qos=0):
        suffix = topic.rsplit("/", 1)[1]
        if suffix == "update":
            self.reports.append(protocol.decode_update(payload))
        elif suffix == "fetch":
            self.fetches += 1
            version, path, offset = protocol.decode_fetch(payload)
            data = self.files[path][offset : offset + protocol.CHUNK]
            chunk = protocol.encode_chunk(version, path, offset, data)
            asyncio.get_running_loop().call_soon(self.updater.on_chunk, chunk)


class App:
    """What Updater reads of the App."""

    def __init__(self):
        self.connected = True
        self.acks_saved = 0
        self.resent = 0
        self.store = type("Store", (), {"seq": 3})()
        self.dial = type("Dial", (), {"editing": False})()

    def resend(self):
        self.resent += 1


@pytest.fixture(autouse=True)
def flash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the firmware's paths are relative to the flash's root
    return tmp_path


class Restarted(Exception):
    pass


def run_update(server, order):
    restarts = []

    def restart(why):
        restarts.append(why)
        raise Restarted  # as machine.reset(): nothing after it runs

    async def go():
        updater = updates.Updater("desk-01", server, running="0.1.0")
        server.updater = updater
        updater.on_ota(order)
        with pytest.raises(Restarted):
            await asyncio.wait_for(updater.run(App(), restart), scaled(10))

    aio.run(go())
    return restarts


def test_a_good_update_is_staged_checked_and_switched_on_trial(flash):
    server = Server(FILES)
    assert run_update(server, manifest(FILES))
    for path, data in FILES.items():
        assert (flash / "app-0.2.0" / path).read_bytes() == data
    slot = json.loads((flash / "slot.json").read_text())
    assert slot == {"active": "app-0.2.0", "version": "0.2.0", "previous": None, "trial": True}
    assert [r["state"] for r in server.reports] == ["downloading", "staged"]
    assert server.fetches == 3 + 1  # a.py's 4,200 bytes in 3 chunks, c.py in 1, b.py (empty) none


def test_a_corrupted_file_fails_the_update_and_nothing_switches(flash):
    served = dict(FILES, **{"board/a.py": FILES["board/a.py"].replace(b"1", b"2", 1)})
    server = Server(FILES, served)

    async def go():
        updater = updates.Updater("desk-01", server, running="0.1.0")
        server.updater = updater
        updater.on_ota(manifest(FILES))
        task = asyncio.create_task(updater.run(App(), lambda why: None))
        while not server.reports or server.reports[-1]["state"] != "failed":
            await asyncio.sleep(0.01)
        task.cancel()

    aio.run(go())
    assert "board/a.py" in server.reports[-1]["reason"]
    assert not (flash / "slot.json").exists()


def test_files_already_staged_are_kept_after_a_power_cut(flash):
    os.makedirs(flash / "app-0.2.0.new" / "board")
    (flash / "app-0.2.0.new" / "board" / "a.py").write_bytes(FILES["board/a.py"])
    server = Server(FILES)
    run_update(server, manifest(FILES))
    assert server.fetches == 1  # only c.py: a.py was whole, b.py is empty


def test_a_trial_is_confirmed_by_an_ack_and_frees_the_previous_copy(flash):
    (flash / "app-0.1.0").mkdir()
    slot = {"active": "app-0.2.0", "version": "0.2.0", "previous": "app-0.1.0", "trial": True}
    (flash / "slot.json").write_text(json.dumps(slot))
    server, app = Server({}), App()

    async def go():
        updater = updates.Updater("desk-01", server, running="0.2.0")
        task = asyncio.create_task(updater.trial(app, lambda why: None))
        await asyncio.sleep(0.05)
        assert app.resent == 1 and not task.done()  # asked for an ack, waits for it
        app.acks_saved = 1
        await asyncio.wait_for(task, scaled(5))

    aio.run(go())
    assert json.loads((flash / "slot.json").read_text()) == {
        "active": "app-0.2.0",
        "version": "0.2.0",
    }
    assert not (flash / "app-0.1.0").exists()
    assert server.reports[-1]["state"] == "done"


def test_a_rolled_back_version_is_reported_and_not_tried_again(flash):
    slot = {"active": None, "rolled_back": "0.3.0", "why": "import failed"}
    (flash / "slot.json").write_text(json.dumps(slot))
    server = Server(FILES)

    async def go():
        updater = updates.Updater("desk-01", server, running="0.1.0")
        server.updater = updater
        await updater.on_up()
        updater.on_ota(manifest(FILES, "0.3.0"))
        task = asyncio.create_task(updater.run(App(), lambda why: None))
        await asyncio.sleep(0.1)
        task.cancel()

    aio.run(go())
    assert server.reports == [
        {"version": "0.3.0", "state": "rolled_back", "reason": "import failed"}
    ]
    assert server.fetches == 0


def test_a_trial_not_confirmed_in_time_goes_back_by_itself(flash, monkeypatch):
    """Connected or not, a trial that has no acknowledged commit within TRIAL_MS (10 min)
    goes back: the slot names the previous copy and the board restarts into it."""
    slot = {"active": "app-0.2.0", "version": "0.2.0", "previous": "app-0.1.0", "trial": True}
    (flash / "slot.json").write_text(json.dumps(slot))
    monkeypatch.setattr(updates, "TRIAL_MS", 50)  # the bound, shortened to run it here
    app, restarts = App(), []
    app.connected = False  # e.g. the new code never reaches the broker

    async def go():
        updater = updates.Updater("desk-01", Server({}), running="0.2.0")
        await asyncio.wait_for(updater.trial(app, restarts.append), scaled(5))

    aio.run(go())
    assert restarts == ["update not confirmed: back to the previous version"]
    assert json.loads((flash / "slot.json").read_text()) == {
        "active": "app-0.1.0",
        "rolled_back": "0.2.0",
        "why": "not confirmed in 0 min",
    }
