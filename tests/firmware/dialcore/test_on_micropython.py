"""The dial's core runs on the real MicroPython interpreter, not only on CPython.

Each test starts one interpreter (WebAssembly port, about 0.1 s) and runs several
checks in it; the MicroPython code prints `@ <name> <json>` lines that the test reads.
The transport in the MicroPython code is a test double for the network only; the real
MQTT path is covered in tests/e2e.
"""

import json
import pathlib

import pytest

from firmware.dialcore import protocol
from tests.support.micropython import run_micropython

FIRMWARE = pathlib.Path(__file__).resolve().parents[3] / "firmware"
HEAP_LIMIT = 40 * 1024  # bytes of GC heap the application core may use on the ESP32

# Runs first in every interpreter: how results are reported, and the network double.
PRELUDE = """
import asyncio, json, os

def out(name, value):
    print("@", name, json.dumps(value))

class Link:
    def __init__(self, store_path=None):
        self.connected = False
        self.store_path = store_path
        self.calls = []
        self.disk = []
        self.on_up = self.on_down = None

    async def connect(self, will, on_message, on_up, on_down):
        self.calls.append(["connect", will[0], will[1].decode(), will[2], will[3]])
        self.on_up, self.on_down = on_up, on_down
        self.connected = True
        await on_up()

    async def publish(self, topic, payload, retain, qos):
        if not self.connected:
            raise OSError("not connected")
        if self.store_path:
            with open(self.store_path) as f:
                self.disk.append(json.load(f)["pending"])
        self.calls.append(["publish", topic, payload.decode(), retain, qos])

    async def subscribe(self, topic, qos):
        self.calls.append(["subscribe", topic, qos])

    async def disconnect(self):
        self.connected = False

    def published(self, suffix):
        end = "/" + suffix
        return [c[2:] for c in self.calls if c[0] == "publish" and c[1].endswith(end)]

async def until(condition):
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep_ms(5)
    raise AssertionError("condition not met")

try:
    os.mkdir("/data")
except OSError:
    pass
"""


def run(code):
    """Run PRELUDE + code under MicroPython; return {name: value} of its `@` lines."""
    stdout = run_micropython(PRELUDE + code, paths={"fw": FIRMWARE})
    results = {}
    for line in stdout.splitlines():
        if line.startswith("@ "):
            _, name, value = line.split(" ", 2)
            results[name] = json.loads(value)
    return results


PROTOCOL_CALLS = [
    "encode_state(3, 17, 'occupied', 2, [(12, 40), (0, 8)], 1767225600)",
    "encode_state(1, 1, 'free', 0, [(5, 5)], None, 'web')",
    "encode_status('online', 3, '0.1.0', 2)",
    "encode_telemetry(3600, '0.1.0', 1, 16, rssi=-67, free_heap=81234)",
    "encode_telemetry(5, '0.1.0', 0, None)",
    "encode_ack(3, 17, 'rejected', 'count 41 above capacity 40 on channel 0')",
    "encode_config(2, 'Maple House', 'occupied', [('Men', 40), ('Youth', 8)])",
    "encode_config(1, 'Caf\u00e9 \u00e9t\u00e9', 'free', [('Beds \u2013 women', 3)])",
]
BAD_PAYLOADS = [
    b"\xff",
    b"3",
    b'{"v": 2}',
    b'{"v": 1, "version": 0}',
    b'{"v": 1, "version": 1, "shelter": "x", "mode": "occupied", "channels": [{"label": "a"}]}',
]
BAD_TOPICS = ["signal/v1/desk-01", "signal/v2/desk-01/state", "signal/v1/-desk/state"]


def test_protocol_and_dial_behave_as_on_cpython():
    results = run(
        f"""
from dialcore import protocol
from dialcore.dial import Dial

for i, call in enumerate({PROTOCOL_CALLS!r}):
    out("encode%d" % i, eval("protocol." + call).decode())
out("ack", protocol.decode_ack(protocol.encode_ack(3, 17, "saved")))
out("ack_newest", protocol.decode_ack(protocol.encode_ack(1, 2, "saved", None, 9)))
out("config", protocol.decode_config(
    protocol.encode_config(2, "Maple House", "free", [("Men", 40), ("Youth", 8)])))
errors = []
for payload in {BAD_PAYLOADS!r}:
    try:
        protocol.decode_config(payload)
    except ValueError as e:
        errors.append(str(e))
out("bad_payloads", errors)
errors = []
for name in {BAD_TOPICS!r}:
    try:
        protocol.parse_topic(name)
    except ValueError as e:
        errors.append(str(e))
out("bad_topics", errors)
out("topic", protocol.parse_topic("signal/v1/desk-01/config"))

dial = Dial([5], [20], settle_ms=2000)
dial.turn(3, 1000)
settle = [dial.editing, dial.due(2999)]
dial.turn(1, 2500)
settle += [dial.due(4499), dial.due(4500), dial.counts, dial.due(9000)]
out("settle", settle)
dial = Dial([1], [4])
dial.turn(-5, 0)
clamp = [dial.counts[0]]
dial.turn(9, 0)
out("clamp", clamp + [dial.counts[0]])
dial = Dial([5], [20], settle_ms=100)
dial.turn(2, 0)
dial.turn(-2, 50)
out("back", [dial.editing, dial.due(1000)])
dial = Dial([1, 2], [10, 10])
dial.turn(1, 0)
dial.press()
press = [dial.editing, dial.committed]
dial.next_channel()
dial.turn(1, 0)
press.append(dial.counts)
dial.next_channel()
out("press", press + [dial.channel])
dial = Dial([15, 3], [20, 10])
out("reconfigure", [dial.reconfigure([12, 10]), dial.counts,
                    dial.reconfigure([12, 10, 5]), dial.counts, Dial([30, 4, 9], [20]).counts])
"""
    )
    for i, call in enumerate(PROTOCOL_CALLS):
        expected = eval("protocol." + call, {"protocol": protocol})
        assert json.loads(results[f"encode{i}"]) == json.loads(expected), call
    assert results["ack"] == protocol.decode_ack(protocol.encode_ack(3, 17, "saved"))
    assert results["ack_newest"]["newest_boot"] == 9
    assert results["config"] == {
        "version": 2,
        "shelter": "Maple House",
        "mode": "free",
        "channels": [["Men", 40], ["Youth", 8]],
    }
    assert results["bad_payloads"] == [
        "payload is not valid JSON",
        "payload is not a JSON object",
        "unsupported protocol version: 2",
        "config version must be a positive integer",
        "config channel needs a label and a capacity >= 0",
    ]
    expected_topic_errors = []
    for name in BAD_TOPICS:
        with pytest.raises(ValueError) as error:
            protocol.parse_topic(name)
        expected_topic_errors.append(str(error.value))
    assert results["bad_topics"] == expected_topic_errors
    assert results["topic"] == ["desk-01", "config"]
    assert results["settle"] == [True, False, False, True, [9], False]
    assert results["clamp"] == [0, 4]
    assert results["back"] == [False, False]
    assert results["press"] == [False, [2, 2], [2, 3], 0]
    assert results["reconfigure"] == [True, [12, 3], False, [12, 3, 0], [20]]


def test_store_and_display_on_micropython():
    results = run(
        """
from dialcore import display, protocol
from dialcore.app import App
from dialcore.clock import ticks_add
from dialcore.store import Store

path = "/data/state.json"
s = Store(path)
s.boot, s.seq, s.counts, s.acked_seq = 4, 17, [12, 3], 16
s.pending = {"boot": 4, "seq": 17, "ts": None, "counts": [12, 3]}
s.config = {"version": 2, "shelter": "Maple", "mode": "free", "channels": [("Men", 40)]}
s.save()
s.save()
out("files_after_save", sorted(os.listdir("/data")))
t = Store(path).load()
out("loaded", [t.boot, t.seq, t.counts, t.acked_seq, t.pending, t.config])
out("channels_are_tuples", type(t.config["channels"][0]) is tuple)
out("start_boot", [t.start_boot(), Store(path).load().boot])

with open(path, "w") as f:
    f.write('{"boot": 3, "seq')
c = Store(path).load()
corrupt = [c.boot, c.seq, c.counts, c.pending, sorted(os.listdir("/data"))]
c.start_boot()
corrupt += [Store(path).load().boot, sorted(os.listdir("/data"))]
out("corrupt", corrupt)

os.rename(path, path + ".tmp")
left = Store(path).load()
out("leftover_tmp", [left.boot, left.seq])
left.save()
out("files_after_tmp", sorted(os.listdir("/data")))

def screen(app, now=None):
    s = display.screen(app, now)
    return [s["state"], s["state_text"], s["title"], s["label"], s["count"], s["detail"]]

os.remove(path)
os.remove(path + ".boot")  # a new device: boot 1
app = App("desk-01", Store(path), Link(), shelter="Maple House", labels=("Beds",),
          capacities=(20,))
offline_since = app.offline_since
out("offline", [screen(app, ticks_add(offline_since, 59999)),
                screen(app, ticks_add(offline_since, 3 * 60000 + 5))])
app.transport.connected = True
app.offline_since = None
out("ready", screen(app))
app.turn(3)
out("editing", screen(app))
app.press()
out("sending", screen(app))
app.on_message("signal/v1/desk-01/ack", protocol.encode_ack(1, 1, "saved"))
out("saved", screen(app))
app.press()
app.on_message("signal/v1/desk-01/ack", protocol.encode_ack(1, 2, "rejected", "no program"))
out("rejected", screen(app))
app.on_message("signal/v1/desk-01/config",
               protocol.encode_config(1, "Oak", "free", [("Men", 40), ("Youth", 8)]))
app.turn(2)
out("channels", screen(app))
"""
    )
    assert results["files_after_save"] == ["state.json"]
    assert results["loaded"] == [
        4,
        17,
        [12, 3],
        16,
        {"boot": 4, "seq": 17, "ts": None, "counts": [12, 3]},
        {"version": 2, "shelter": "Maple", "mode": "free", "channels": [["Men", 40]]},
    ]
    assert results["channels_are_tuples"] is True
    assert results["start_boot"] == [5, 5]
    # the boot counter outlives a corrupt state file: new commits stay newer than old ones
    assert results["corrupt"] == [
        5,
        0,
        [],
        None,
        ["state.json.boot", "state.json.corrupt"],
        6,
        ["state.json", "state.json.boot", "state.json.corrupt"],
    ]
    assert results["leftover_tmp"] == [6, 0]
    assert results["files_after_tmp"] == ["state.json", "state.json.boot", "state.json.corrupt"]

    free_20 = ["Maple House", "Beds", "0", "of 20  20 free"]
    assert results["offline"] == [
        ["offline", "OFFLINE <1 min", *free_20],
        ["offline", "OFFLINE 3 min", *free_20],
    ]
    assert results["ready"] == ["ready", "ready", *free_20]
    three = ["Maple House", "Beds", "3", "of 20  17 free"]
    assert results["editing"] == ["editing", "release to save", *three]
    assert results["sending"] == ["sending", "sending...", *three]
    assert results["saved"] == ["saved", "SAVED", *three]
    assert results["rejected"] == ["rejected", "NOT SAVED: no program", *three]
    assert results["channels"] == [
        "editing",
        "release to save",
        "Oak",
        "Men 1/2",
        "5",
        "of 40  5 free",
    ]


def state_payload(boot, seq, channels, config_version=0, mode="occupied"):
    return {
        "v": 1,
        "boot": boot,
        "seq": seq,
        "ts": None,
        "mode": mode,
        "config_version": config_version,
        "source": "dial",
        "channels": [{"count": c, "capacity": cap} for c, cap in channels],
    }


def test_app_commits_publishes_and_applies_config_on_micropython():
    results = run(
        """
from dialcore import display, protocol
from dialcore.app import App
from dialcore.store import Store

path = "/data/state.json"
ACK = "signal/v1/desk-01/ack"
CONFIG = "signal/v1/desk-01/config"

def new_app():
    return App("desk-01", Store(path), Link(path), shelter="Maple House", labels=("Beds",),
               capacities=(20,))

app = new_app()
link = app.transport
task = asyncio.create_task(app.run())
await until(lambda: link.connected)
out("connect", link.calls[:3])
app.turn(15)
app.press()
await until(lambda: link.published("state"))
out("published", link.published("state"))
out("disk_at_publish", link.disk[-1])
out("before_ack", display.state(app))
app.on_message(ACK, protocol.encode_ack(1, 0, "saved"))  # an older commit's ack
app.on_message(ACK, protocol.encode_ack(2, 1, "saved"))  # another boot's
out("older_ack", [app.store.pending["seq"], display.state(app)])
app.on_message(ACK, protocol.encode_ack(1, 1, "saved"))
out("acked", [app.store.pending, app.store.acked_seq, display.state(app)])

app.on_message(CONFIG, protocol.encode_config(2, "Oak", "occupied", [("Men", 10), ("Kids", 4)]))
await until(lambda: len(link.published("state")) == 2)
out("config", [app.config["version"], app.labels, app.dial.capacities, app.dial.counts,
               app.store.seq, link.published("state")[-1],
               json.loads(link.published("status")[-1][0])["config_version"]])
app.on_message(CONFIG, protocol.encode_config(2, "Elm", "free", [("X", 1)]))
app.on_message(CONFIG, protocol.encode_config(1, "Elm", "free", [("X", 1)]))
out("older_config", [app.config["shelter"], app.dial.capacities])

link.connected = False
link.on_down()
app.press()  # (1, 3): cannot be sent now
await asyncio.sleep_ms(20)
offline = [len(link.published("state")), display.state(app)]
link.connected = True
await link.on_up()
await until(lambda: len(link.published("state")) == 3)
out("replayed_on_up", offline + [json.loads(link.published("state")[-1][0])["seq"]])
task.cancel()

app = new_app()  # reboot with (1, 3) still pending
out("rebooted", [app.store.boot, app.store.seq, app.dial.counts, app.labels, app.store.pending])
link = app.transport
task = asyncio.create_task(app.run())
await until(lambda: link.published("state"))
out("replayed_after_reboot", link.published("state")[0])
app.on_message(ACK, protocol.encode_ack(1, 3, "rejected", "channel 1 is not paired"))
out("rejected", [display.state(app), display.screen(app)["state_text"]])
task.cancel()
"""
    )
    assert results["connect"] == [
        ["connect", "signal/v1/desk-01/status", results["connect"][0][2], True, 1],
        ["subscribe", "signal/v1/desk-01/ack", 1],
        ["subscribe", "signal/v1/desk-01/config", 1],
    ]
    assert json.loads(results["connect"][0][2]) == json.loads(
        protocol.encode_status("lost", 1, "0.1.0", 0)
    )
    [(payload, retain, qos)] = results["published"]
    assert (json.loads(payload), retain, qos) == (state_payload(1, 1, [(15, 20)]), True, 1)
    assert results["disk_at_publish"] == {"boot": 1, "seq": 1, "ts": None, "counts": [15]}
    assert results["before_ack"] == "sending"
    assert results["older_ack"] == [1, "sending"]
    assert results["acked"] == [None, 1, "saved"]

    version, labels, capacities, counts, seq, (payload, retain, qos), announced = results["config"]
    assert (version, labels, capacities, counts, seq) == (2, ["Men", "Kids"], [10, 4], [10, 0], 2)
    assert (json.loads(payload), retain, qos) == (
        state_payload(1, 2, [(10, 10), (0, 4)], config_version=2),
        True,
        1,
    )
    assert announced == 2
    assert results["older_config"] == ["Oak", [10, 4]]
    assert results["replayed_on_up"] == [2, "offline", 3]

    assert results["rebooted"] == [
        2,
        3,
        [10, 0],
        ["Men", "Kids"],
        {"boot": 1, "seq": 3, "ts": None, "counts": [10, 0]},
    ]
    payload, retain, qos = results["replayed_after_reboot"]
    assert (json.loads(payload), retain, qos) == (
        state_payload(1, 3, [(10, 10), (0, 4)], config_version=2),
        True,
        1,
    )
    assert results["rejected"] == ["rejected", "NOT SAVED: channel 1 is not paired"]


# The application core's heap on MicroPython: the data it keeps (gc.collect() before each
# sample). Only the network double (which keeps nothing) and the sampling exist before
# `base`; asyncio is already imported by the runner. Garbage between collections is not
# asserted here: where the port's automatic GC falls depends on how often the settle loop
# ran, so that figure swung 40,096-42,528 B over runs of the same code. Whether the
# garbage fits is proved whole, with the device's own GC threshold, by tests/firmware/test_heap.py.
HEAP_RUN = """
import gc

class QuietLink:
    def __init__(self):
        self.connected = False
        self.sent = 0
    async def connect(self, will, on_message, on_up, on_down):
        self.connected = True
        await on_up()
    async def publish(self, topic, payload, retain, qos):
        self.sent += 1
    async def subscribe(self, topic, qos):
        pass
    async def disconnect(self):
        self.connected = False

peak = [0]
def sample():
    gc.collect()
    used = gc.mem_alloc() - base
    if used > peak[0]:
        peak[0] = used

gc.collect()
base = gc.mem_alloc()
from dialcore import display, protocol
from dialcore.app import App
from dialcore.store import Store
sample()
link = QuietLink()
app = App("desk-01", Store("/data/heap.json"), link, shelter="Maple House",
          labels=("Men", "Youth"), capacities=(40, 8))
sample()
task = asyncio.create_task(app.run())
await asyncio.sleep_ms(0)
sample()
ACK = "signal/v1/desk-01/ack"
CONFIG = "signal/v1/desk-01/config"

def ack_pending():
    p = app.store.pending
    if p is not None:
        app.on_message(ACK, protocol.encode_ack(p["boot"], p["seq"], "saved"))

app.on_message(CONFIG, protocol.encode_config(1, "Maple House", "occupied",
                                              [("Men", 40), ("Youth", 8)]))
await asyncio.sleep_ms(0)
sample()
version = 1
for i in range(50):
    app.turn(3 if i % 4 else -1)
    sample()
    app.press()
    sample()
    await asyncio.sleep_ms(0)  # the sender publishes the commit
    sample()
    ack_pending()
    sample()
    display.screen(app)
    sample()
    if i % 10 == 9:
        version += 1
        caps = [40 - 2 * version, 8 - version]  # shrinks: clamped counts are committed
        app.on_message(CONFIG, protocol.encode_config(
            version, "Maple House", "occupied", [("Men", caps[0]), ("Youth", caps[1])]))
        sample()
        await asyncio.sleep_ms(0)
        sample()
        ack_pending()
        sample()
task.cancel()
out("heap", {"peak": peak[0], "seq": app.store.seq, "sent": link.sent,
             "version": app.config["version"], "state": display.state(app)})
"""


def test_application_core_heap_stays_small_on_micropython():
    result = run(HEAP_RUN)["heap"]
    assert result["seq"] >= 50 and result["version"] == 6 and result["state"] == "saved"
    assert result["sent"] > 50  # every commit was published (plus status messages)
    print(
        f"\nMicroPython dialcore peak heap over {result['seq']} commits and 6 configs: "
        f"{result['peak']} B kept (gc.collect() before each sample); limit {HEAP_LIMIT} B"
    )
    assert result["peak"] < HEAP_LIMIT
