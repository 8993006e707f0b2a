"""The watchdog's view of the App (board/supervisor.py), on the real MicroPython interpreter.

The App's sender waits for commits and for the link, so it cannot beat like the other
tasks; a publish that never ends (a wedged mqtt_as call) must still stop the watchdog's
feeding, within SEND_STUCK_MS, while a dial that is merely idle or offline never does.
The virtual dial (tests/firmware/test_main.py) shows that every network fault we can make
ends a publish by itself (a lost link ends it: board/transport.py), so the wedge is made
here, by a link whose state publish never returns.
"""

from tests.firmware.dialcore.test_on_micropython import run

WEDGED = """
from board.supervisor import SEND_STUCK_MS, STALE_MS, Heartbeats, watch_app
from dialcore.app import App
from dialcore.clock import ticks_add, ticks_ms
from dialcore.store import Store

class Wedged(Link):
    release = asyncio.Event()

    async def publish(self, topic, payload, retain, qos):
        if topic.endswith("/state"):
            await self.release.wait()  # neither answered nor failed, until released
        await super().publish(topic, payload, retain, qos)

app = App("desk-01", Store("/data/wedged.json"), Wedged(), shelter="Maple House",
          labels=("Beds",), capacities=(20,))
beats = Heartbeats()
watch_app(beats, app)
task = asyncio.create_task(app.run())
await until(lambda: app.transport.connected)
out("idle", beats.stale(ticks_ms()))
app.turn(3)
app.press()
await until(lambda: app.sending_since is not None)
now = ticks_ms()
later = ticks_add(now, SEND_STUCK_MS + 1000)
# The App's own beat is fed by its loop; in the far future only the sender is silent.
out("wedged", [beats.stale(now), "sender" in beats.stale(later), SEND_STUCK_MS > STALE_MS])
app.transport.release.set()
await until(lambda: app.sending_since is None)
out("ended", [beats.stale(ticks_ms()), app.transport.published("state") != []])
task.cancel()
"""


def test_a_wedged_publish_stops_the_watchdog_until_it_ends():
    results = run(WEDGED)
    assert results["idle"] == []
    assert results["wedged"] == [[], True, True]  # stuck only once SEND_STUCK_MS have passed
    assert results["ended"] == [[], True]
