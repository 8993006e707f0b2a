"""Staying alive (dialcore/resets.py) and safe mode's reports (board/safe_mode.py).

The crash count decides whether the dial starts in safe mode, so the same story of
restarts runs on CPython and on the real MicroPython interpreter, against a real file,
and both must tell it the same way. Safe mode's messages must pass the server's schemas.
"""

import json
import pathlib

import pytest

from firmware.dialcore import resets
from firmware.dialcore.resets import HEALTHY_MS, Resets, offline_too_long
from server import protocol as server_protocol
from tests.firmware.dialcore.test_on_micropython import PRELUDE
from tests.support.micropython import run_micropython

FIRMWARE = pathlib.Path(__file__).resolve().parents[2] / "firmware"

# A dial's life, one restart after another (each new Resets(path) is a new start).
STORY = """
def start(watchdog_reset=False):
    return Resets(path).started(watchdog_reset)

r = start()
out("first_start", [r.crashes, r.safe_mode, r.why, path_exists()])
r.crashed("OSError: [Errno 12] ENOMEM")
r = start(watchdog_reset=True)
out("watchdog", [r.crashes, r.why, r.safe_mode])
r.last_words("hung: ['app']")
r = start(watchdog_reset=True)
out("hung", [r.crashes, r.why, r.safe_mode, r.summary()])
r = start()
out("power_cut_keeps_the_count", [r.crashes, r.safe_mode])
r.clear()
r = start()
out("cleared", [r.crashes, r.why, r.safe_mode])
r.last_words(INTERRUPTED)
r = start(watchdog_reset=True)
out("ctrl_c", [r.crashes, r.why])
r.last_words("hung: ['screen']")
r.recovered()
r = start(watchdog_reset=True)
out("recovered", [r.crashes, r.why])
r.last_words("ended: ['led']")
r = start()
r = start(watchdog_reset=True)
out("last_words_last_one_start", [r.crashes, r.why])
r.crashed("x" * 200)
out("why_is_short", len(start().why))

t = 1000
r.check(t, True)
r.check(t + HEALTHY_MS - 1, True)
almost = start().crashes
r.check(t + HEALTHY_MS, False)
r.check(t + HEALTHY_MS + 1000, True)
r.check(t + 2 * HEALTHY_MS + 999, True)
trouble_restarts_the_clock = start().crashes
r.check(t + 2 * HEALTHY_MS + 1000, True)
out("healthy", [almost, trouble_restarts_the_clock, start().crashes, start().why])

out("offline", [offline_too_long(30 * 60000 - 1, 30), offline_too_long(30 * 60000, 30),
                offline_too_long(0, 5)])
"""

EXPECTED = {
    "first_start": [0, False, None, False],
    "watchdog": [2, "watchdog: no sign of life", False],
    "hung": [
        3,
        "watchdog: hung: ['app']",
        True,
        "3 crashes in a row, last: watchdog: hung: ['app']",
    ],
    "power_cut_keeps_the_count": [3, True],
    "cleared": [0, None, False],
    "ctrl_c": [0, None],
    "recovered": [1, "watchdog: no sign of life"],
    "last_words_last_one_start": [2, "watchdog: no sign of life"],
    "why_is_short": resets.WHY_CHARS,
    "healthy": [3, 3, 0, None],
    "offline": [False, True, False],
}


def test_the_story_on_cpython(tmp_path):
    path = tmp_path / "resets.json"
    told = {}
    namespace = {
        "Resets": Resets,
        "HEALTHY_MS": HEALTHY_MS,
        "INTERRUPTED": resets.INTERRUPTED,
        "offline_too_long": offline_too_long,
        "path": str(path),
        "path_exists": path.exists,
        "out": lambda name, value: told.__setitem__(name, json.loads(json.dumps(value))),
    }
    exec(STORY, namespace)
    assert told == EXPECTED


def test_the_story_on_micropython():
    code = (
        PRELUDE
        + """
from dialcore.resets import HEALTHY_MS, INTERRUPTED, Resets, offline_too_long
path = "/data/resets.json"

def path_exists():
    return "resets.json" in os.listdir("/data")
"""
        + STORY
    )
    told = {}
    for line in run_micropython(code, paths={"fw": FIRMWARE}).splitlines():
        if line.startswith("@ "):
            _, name, value = line.split(" ", 2)
            told[name] = json.loads(value)
    assert told == EXPECTED


def test_a_normal_start_writes_nothing(tmp_path):
    path = tmp_path / "resets.json"
    assert not Resets(str(path)).started(False).safe_mode
    assert not path.exists(), "no flash write on an ordinary start"


def test_a_damaged_file_starts_a_new_series(tmp_path):
    path = tmp_path / "resets.json"
    path.write_text('{"crashes": 3, "wh')
    assert Resets(str(path)).started(False).crashes == 0
    assert (tmp_path / "resets.json.corrupt").exists()


# -- safe mode's reports on MicroPython ------------------------------------------------------

SAFE_MODE = """
from board.safe_mode import SafeReporter
from dialcore.store import Store

path = "/data/state.json"
s = Store(path)
s.boot, s.seq, s.counts, s.acked_seq = 4, 17, [12], 16
s.pending = {"boot": 4, "seq": 17, "ts": None, "counts": [12]}
s.config = {"version": 2, "shelter": "Maple", "mode": "free", "channels": [("Men", 40)]}
s.save()

beats = []
link = Link()
reporter = SafeReporter("desk-01", link, path, 1, lambda: {"rssi": -61, "free_heap": 90000})
out("known", [reporter.boot, reporter.config_version, reporter.queue, reporter.acked_seq,
              Store(path).load().boot, Store(path).load().pending["seq"]])
task = asyncio.create_task(reporter.run(lambda: beats.append(1)))
await until(lambda: link.published("telemetry"))
out("calls", link.calls)
out("beats", len(beats) >= 1)
link.connected = False
link.on_down()
await asyncio.sleep_ms(5)
down = reporter.offline_ms(time.ticks_ms()) > 0
link.connected = True
await link.on_up()
out("offline", [down, reporter.offline_ms(time.ticks_ms())])
task.cancel()

with open(path, "w") as f:
    f.write('{"boot": "seven"}')
out("unusable_state", [SafeReporter("desk-01", Link(), path, 60).boot])
"""


@pytest.fixture(scope="module")
def safe_mode_run():
    code = PRELUDE + "import time\n" + SAFE_MODE
    told = {}
    for line in run_micropython(code, paths={"fw": FIRMWARE}).splitlines():
        if line.startswith("@ "):
            _, name, value = line.split(" ", 2)
            told[name] = json.loads(value)
    return told


def test_safe_mode_counts_a_boot_and_knows_what_is_unsent(safe_mode_run):
    assert safe_mode_run["known"] == [5, 2, 1, 16, 5, 17]
    assert safe_mode_run["beats"] is True


def test_safe_mode_says_online_and_reports_telemetry_marked_safe(safe_mode_run):
    calls = safe_mode_run["calls"]
    connect, status, telemetry = calls[0], calls[1], calls[-1]
    assert [call[0] for call in calls].count("subscribe") == 0, "safe mode takes no orders"

    assert connect[:2] == ["connect", "signal/v1/desk-01/status"]
    will = json.loads(connect[2])
    assert will == {"v": 1, "state": "lost", "boot": 5, "fw": "0.1.0+safe", "config_version": 2}
    assert connect[3:] == [True, 1]

    assert status[:2] == ["publish", "signal/v1/desk-01/status"]
    assert json.loads(status[2])["state"] == "online"
    assert status[3:] == [True, 1]

    assert telemetry[:2] == ["publish", "signal/v1/desk-01/telemetry"]
    report = json.loads(telemetry[2])
    assert report["fw"] == "0.1.0+safe"
    assert (report["queue"], report["last_acked_seq"]) == (1, 16)
    assert (report["rssi"], report["free_heap"]) == (-61, 90000)
    assert telemetry[3:] == [False, 0]

    for suffix, payload in (("status", will), ("status", status[2]), ("telemetry", report)):
        message = payload if isinstance(payload, dict) else json.loads(payload)
        server_protocol.check(suffix, message)  # the server stores them, not dead-letters


def test_safe_mode_tracks_the_broker_link(safe_mode_run):
    assert safe_mode_run["offline"] == [True, 0]


def test_safe_mode_comes_up_whatever_the_state_file_holds(safe_mode_run):
    assert safe_mode_run["unusable_state"] == [1]
