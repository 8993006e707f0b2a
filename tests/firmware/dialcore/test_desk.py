"""Holds at the desk on the real MicroPython: the config's holds on the screen ("1 HELD 42m"),
and ending one as arrived (counted in by the same commit) or released, carried on by a
newer commit that replaces an unsent one."""

import json

from tests.firmware.dialcore.test_on_micropython import run

NOW = 1_767_225_600  # the dial's synced clock in the test, Unix seconds


def test_holds_show_on_the_screen_and_end_in_a_commit_on_micropython():
    results = run(
        f"""
from dialcore import display, protocol
from dialcore.app import App
from dialcore.store import Store

path = "/data/state.json"
link = Link(path)
app = App("desk-01", Store(path), link, shelter="Maple House", unix_time=lambda: {NOW})
app.on_message("signal/v1/desk-01/config", protocol.encode_config(
    2, "Maple House", "occupied", [("Men", 20)],
    [[{{"id": 7, "code": "K7Q4", "until": {NOW} + 41 * 60 + 30}},
      {{"id": 9, "code": "ZX23", "until": {NOW} + 80 * 60}}]]))
out("held", display.screen(app)["title"])
app.turn(5)
app.press()
app.end_hold(7, "arrived")  # before the ack of the press: both go in one commit
out("arrived", [app.dial.counts, app.store.pending["ended"], display.screen(app)["title"]])
app.end_hold(9, "released")
out("pending", app.store.pending)
out("sent", protocol.encode_state(1, 3, "occupied", 2, [(6, 20)], None, "dial",
    [{{"holds_ended": app.store.pending["ended"][0]}}]).decode())
out("none", display.screen(app)["title"])
"""
    )
    assert results["held"] == "2 HELD 42m"  # the soonest to end, rounded up
    assert results["arrived"] == [[6], [{"7": "arrived"}], "1 HELD 80m"]
    assert results["pending"]["counts"] == [6]
    assert results["pending"]["ended"] == [{"7": "arrived", "9": "released"}]  # carried on
    channel = json.loads(results["sent"])["channels"][0]
    assert channel["holds_ended"] == {"7": "arrived", "9": "released"}
    assert results["none"] == "Maple House"
