"""Safe mode's link to the server: the dial says it is alive, and nothing more.

After repeated crashes (dialcore/resets.py) main.py starts neither the dial app nor the
encoder: only the screen, the button, the setup Wi-Fi and this. Over the usual transport
it sends the protocol's own messages: a retained `status` online on every connection (the
broker's `lost` will on a loss) and `telemetry` every telemetry_s. Both carry the firmware
version marked with `+safe` (semver build metadata, e.g. `0.1.0+safe`), so
`shelter-signal device list` shows which dials are in safe mode without a new field.
The last unsent count stays on flash for when the dial runs again.

Nothing here touches hardware, so the tests run it on the MicroPython interpreter.
"""

import asyncio

from dialcore import FIRMWARE_VERSION, protocol
from dialcore.clock import Uptime, ticks_diff, ticks_ms
from dialcore.store import Store

FIRMWARE = FIRMWARE_VERSION + "+safe"


def last_known(state_path):
    """(boot, config version, unsent commits, last acked seq) from the dial's state file.

    Counts this start as a boot, as every start is. A state file that will not load (it
    may be what crashed the dial) reports boot 1 and config version 0 instead.
    """
    try:
        store = Store(state_path).load()
        boot = store.start_boot()
        version = store.config["version"] if store.config else 0
        return boot, version, 1 if store.pending else 0, store.acked_seq
    except Exception as e:  # whatever the file holds, safe mode must come up and report
        print("safe mode: state file unusable:", repr(e))
        return 1, 0, 0, None


class SafeReporter:
    def __init__(self, device_id, transport, state_path, telemetry_s, health=None):
        self.device_id = device_id
        self.transport = transport
        self.telemetry_s = telemetry_s
        self.health = health  # returns {"rssi": dBm, "free_heap": bytes} on the device
        self.uptime = Uptime()
        self.offline_since = ticks_ms()
        self.boot, self.config_version, self.queue, self.acked_seq = last_known(state_path)

    def offline_ms(self, now):
        return 0 if self.offline_since is None else ticks_diff(now, self.offline_since)

    def _status(self, state):
        return protocol.encode_status(state, self.boot, FIRMWARE, self.config_version)

    def _topic(self, suffix):
        return protocol.topic(self.device_id, suffix)

    def _ignore(self, topic, payload):
        pass  # nothing is subscribed: safe mode takes no orders

    async def _on_up(self):
        self.offline_since = None
        await self.transport.publish(self._topic("status"), self._status("online"), True, 1)

    def _on_down(self):
        if self.offline_since is None:
            self.offline_since = ticks_ms()

    async def run(self, beat):
        """Forever: stay connected, report telemetry every telemetry_s; beat every second."""
        will = (self._topic("status"), self._status("lost"), True, 1)
        await self.transport.connect(will, self._ignore, self._on_up, self._on_down)
        while True:
            for _ in range(self.telemetry_s):
                beat()
                self.uptime.seconds()  # often enough to count past the tick clock's wrap
                await asyncio.sleep(1)
            if not self.transport.connected:
                continue
            health = self.health() if self.health else {}
            payload = protocol.encode_telemetry(
                self.uptime.seconds(),
                FIRMWARE,
                self.queue,
                self.acked_seq,
                health.get("rssi"),
                health.get("free_heap"),
            )
            try:
                await self.transport.publish(self._topic("telemetry"), payload, False, 0)
            except OSError:
                pass  # best effort, like the dial's own telemetry
