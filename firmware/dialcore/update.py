"""Updates over the air: download a new version, switch to it on trial, keep it or go back.

The server orders an update with a retained `ota` message (docs/protocol.md, "Updates over
the air"): a version and, for each file of board/ and dialcore/, its size and SHA-256. The
dial then, over the broker link it already has:

1. downloads each file in chunks into a staging folder (dialcore/download.py, imported
   only when an order comes);
2. when every file checks out, renames the staging folder to its slot folder and points
   slot.json at it on trial (main.py, the loader, reads it), then restarts between turns;
3. on trial: confirms once the new code is connected and a commit was acknowledged (it
   sends the newest commit again to find out), or goes back by itself after TRIAL_MS, or
   (the loader) when the new code fails to import or keeps crashing.

It reports each step on `update` (retained), and the version it runs is the `fw` of
`status` and `telemetry`. A version that was rolled back is not tried again until the
server orders another. Hardware-free: the transport, a restart and a clock come from the
caller (board/start.py), so it runs under CPython and MicroPython alike.
"""

import asyncio
import os

from . import FIRMWARE_VERSION, protocol
from .clock import ticks_diff, ticks_ms
from .store import load_json, write_json

SLOT_PATH = "slot.json"  # the loader's (main.py), in the same format
RETRY_S = 30  # after a failed download: try again (a corrupt file is not retried)
IDLE_POLL_S = 1  # staged: restart within a second of the dial coming to rest
# A trial must reach "connected and a commit acknowledged" this soon (mqtt_as's first
# connection takes up to two minutes when Wi-Fi is slow), or the dial goes back.
TRIAL_MS = 10 * 60 * 1000


def folder_for(version):
    """The slot folder of a version (protocol versions are safe in file names)."""
    return "app-" + version


def remove_tree(path):
    """Delete a file or a folder with everything in it; nothing if it does not exist."""
    try:
        os.remove(path)
        return
    except OSError:  # a folder, or nothing there
        pass
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        remove_tree(path + "/" + name)
    os.rmdir(path)


class Updater:
    def __init__(self, device_id, transport, running=FIRMWARE_VERSION):
        self.device_id = device_id
        self.transport = transport
        self.running = running
        self.slot = load_json(SLOT_PATH) or {}
        self.order = None  # the newest update order: {"version", "files"}, or None
        self.state = None  # (version, state, reason) last reported, or to report
        self._ordered = asyncio.Event()
        self._download = None  # the Download under way (dialcore/download.py), or None
        self._started = ticks_ms()
        if self.slot.get("rolled_back"):
            self.state = (self.slot["rolled_back"], "rolled_back", self.slot.get("why"))
        elif self.slot.get("trial"):
            self.state = (running, "trial", None)

    # -- messages from the server (App hands them over) --------------------------------------

    def handlers(self):
        return {"ota": self.on_ota, "chunk": self.on_chunk}

    def on_ota(self, payload):
        self.order = protocol.decode_ota(payload)
        if self.order["version"] is None:
            self.order = None
        self._ordered.set()

    def on_chunk(self, payload):
        if self._download is not None:
            self._download.on_chunk(protocol.decode_chunk(payload))

    # -- reports -------------------------------------------------------------------------------

    async def report(self, version, state, reason=None):
        """Say where an update stands (retained); kept to say again after a reconnect."""
        self.state = (version, state, reason)
        print("update:", version, state, reason or "")
        await self._say()

    async def on_up(self):
        """After every (re)connection: say again where the update stands."""
        await self._say()

    async def _say(self):
        if self.state is None or not self.transport.connected:
            return
        version, state, reason = self.state
        try:
            await self.transport.publish(
                protocol.topic(self.device_id, "update"),
                protocol.encode_update(version, state, reason and reason[:200]),
                True,
                1,
            )
        except OSError:  # the link dropped: on_up says it again
            pass

    # -- the trial -----------------------------------------------------------------------------

    async def trial(self, app, restart):
        """On trial: confirm once connected with a commit acknowledged, or go back."""
        if not self.slot.get("trial"):
            return
        asked = False
        while True:
            if app.connected and not asked:
                app.resend()  # an ack for the newest commit proves the round trip
                asked = True
            if app.connected and (app.acks_saved or not app.store.seq):
                self.confirm()
                await self.report(self.running, "done")
                return
            if ticks_diff(ticks_ms(), self._started) > TRIAL_MS:
                self.go_back("not confirmed in " + str(TRIAL_MS // 60000) + " min")
                restart("update not confirmed: back to the previous version")
                return
            await asyncio.sleep(1)

    def confirm(self):
        """The new version works: keep it, and free the flash the previous one took."""
        previous = self.slot.get("previous")
        self.slot = {"active": self.slot.get("active"), "version": self.running}
        write_json(SLOT_PATH, self.slot)
        if previous and previous != self.slot["active"]:
            remove_tree(previous)

    def go_back(self, why):
        """As main.py's roll_back: the previous copy runs after the restart."""
        slot = self.slot
        write_json(
            SLOT_PATH, {"active": slot.get("previous"), "rolled_back": self.running, "why": why}
        )

    # -- downloading and switching -------------------------------------------------------------

    def _wanted(self):
        """The order to act on now, or None."""
        order = self.order
        if order is None or order["version"] == self.running:
            return None
        if order["version"] == self.slot.get("rolled_back"):
            return None  # it failed here before: wait for another order
        return order

    async def run(self, app, restart):
        """Forever: confirm a trial (or go back), then carry out update orders."""
        await self.trial(app, restart)
        failed = None  # a version whose files did not check out: not retried
        while True:
            await self._ordered.wait()
            self._ordered.clear()
            order = self._wanted()
            if order is None or order["version"] == failed:
                continue
            version = order["version"]
            # Imported only now: a counting dial never holds the download code (module docstring).
            from .download import Download

            self._download = Download(self.device_id, self.transport, order)
            try:
                await self.report(version, "downloading")
                folder = await self._download.stage()
            except ValueError as e:  # a file that does not check out: say so, stay as we are
                failed = version
                await self.report(version, "failed", str(e))
                continue
            except OSError as e:  # the link: try again later
                print("update: download interrupted:", repr(e))
                await asyncio.sleep(RETRY_S)
                self._ordered.set()
                continue
            finally:
                self._download = None
            wanted = self._wanted()
            if wanted is None or wanted["version"] != version:  # withdrawn or replaced meanwhile
                self._ordered.set()
                continue
            self._switch(version, folder)
            await self.report(version, "staged")
            while app.dial.editing:  # not while a count is being turned: it is not saved yet
                await asyncio.sleep(IDLE_POLL_S)
            restart("update " + version + " staged: starting it on trial")
            return

    def _switch(self, version, staging):
        """The staged folder becomes the version's slot, and slot.json puts it on trial."""
        folder = folder_for(version)
        remove_tree(folder)  # a leftover of an earlier try
        os.rename(staging, folder)
        previous = self.slot.get("active")
        slot = {"active": folder, "version": version, "previous": previous, "trial": True}
        write_json(SLOT_PATH, slot)
        self.slot = slot
