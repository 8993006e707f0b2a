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


def test_the_hold_gesture_ends_the_soonest_hold_and_keeps_the_other_gestures_on_micropython():
    """Held past the long press (board/button.py HOLD_MS calls desk.arm), the knob's next
    click ends the soonest hold: clockwise arrived (counted in, one commit), anticlockwise
    released; let go without a click, nothing. Before it, hold and click is a turn-away."""
    results = run(
        f"""
from dialcore import display, protocol
from dialcore.app import App
from dialcore.desk import arm
from dialcore.store import Store

path = "/data/state.json"
app = App("desk-01", Store(path), Link(path), shelter="Maple House",
          unix_time=lambda: {NOW})
app.transport.connected, app.offline_since = True, None  # online, never sending: "sending..."
app.on_message("signal/v1/desk-01/config", protocol.encode_config(
    2, "Maple House", "occupied", [("Men", 20), ("Youth", 8)],
    [[{{"id": 9, "code": "ZX23", "until": {NOW} + 80 * 60}},
      {{"id": 7, "code": "K7Q4", "until": {NOW} + 41 * 60 + 30}}], []]))
app.turn(5)
app.press()  # commit 1, on to Youth
app.press()  # commit 2, back to Men

def screen():
    s = display.screen(app)
    return [s["title"], s["label"], s["count"], s["detail"], s["state_text"]]

def gesture(steps=None, early=False):
    app.button_down()
    if early:  # a click before the hold page: the turn-away, as always
        app.turn(1)
    shown = [app.resend(), arm(app), screen()]  # the long press at 1 s, the page at 3 s
    if steps:
        app.turn(steps)
        app.turn(steps)  # more clicks in the same hold: nothing more
    app.button_up()  # no short press: the board gives none after a long press
    return shown

out("page", gesture())  # let go without a click
out("untouched", [app.store.seq, app.dial.counts, app.dial.channel, screen()])
out("arrived", gesture(+1))
out("after_arrived", [app.store.seq, app.dial.counts, app.dial.channel, app.store.pending,
                      screen()])
out("released", gesture(-1)[2])
out("after_released", [app.store.pending["ended"], app.dial.counts, screen()[0]])
out("none_left", gesture())
app.on_message("signal/v1/desk-01/config", protocol.encode_config(
    3, "Maple House", "occupied", [("Men", 20), ("Youth", 8)],
    [[{{"id": 11, "code": "PQ42", "until": {NOW} + 60 * 60}}], []]))
out("turn_away_first", gesture(early=True)[:2] + [app.store.pending.get("turned")])
app.dial.channel = 1
out("other_channel", gesture())
"""
    )
    page = ["2 HELD 42m", "right: ARRIVED", "K7Q4", "left: RELEASED", "let go: cancel"]
    assert results["page"] == [True, True, page]  # the soonest hold's code, in big letters
    assert results["untouched"] == [2, [5, 0], 0, ["2 HELD 42m", "Men 1/2", "5", "of 20  15 free",
                                                    "sending..."]]  # fmt: skip
    assert results["arrived"][2] == page
    seq, counts, channel, pending, screen = results["after_arrived"]
    assert (seq, counts, channel) == (3, [6, 0], 0)  # one commit, counted in, same channel
    assert pending["ended"] == [{"7": "arrived"}, {}]
    assert screen[0] == "1 HELD 80m" and screen[4] == "HOLD: ARRIVED"
    assert results["released"][2] == "ZX23"
    ended, counts, title = results["after_released"]
    assert ended == [{"7": "arrived", "9": "released"}, {}]  # carried on until the ack
    assert (counts, title) == ([6, 0], "Maple House")
    assert results["none_left"][1:] == [False, ["Maple House", "Men 1/2", "6", "of 20  14 free",
                                                "HOLD RELEASED"]]  # fmt: skip
    # a click before the page is the turn-away, and then no page: its hold was that gesture
    assert results["turn_away_first"] == [False, False, [{"no_bed": 1}]]
    assert results["other_channel"][1] is False  # Youth has no hold: nothing new


def test_a_closed_channel_shows_closed_keeps_its_count_and_refuses_counts_on_micropython():
    """A config that says a channel's program is closed: the dial shows CLOSED there, puts
    back the count the server has from it, and a turn there counts nothing and says so;
    the open channel, the press and the turn-away work as always, and reopening counts."""
    results = run(
        """
from dialcore import display, protocol
from dialcore.app import App
from dialcore.store import Store

path = "/data/state.json"
CONFIG = "signal/v1/desk-01/config"
app = App("desk-01", Store(path), Link(path), shelter="Maple House", labels=("Men", "Cots"),
          capacities=(20, 30))
app.transport.connected, app.offline_since = True, None

def screen():
    s = display.screen(app)
    return [s["label"], s["count"], s["detail"], s["state_text"]]

app.press()  # on to Cots
app.turn(8)  # counted as the program closes: the server refuses it, keeps 7
app.press()
app.on_message(CONFIG, protocol.encode_config(2, "Maple House", "occupied",
    [("Men", 20), ("Cots", 30)], None, [{}, {"closed": True, "count": 7}]))
out("kept", [app.dial.counts, app.store.counts, app.config["closed"][0]])
app.press()  # on to Cots
out("closed", screen())
app.turn(3)
out("refused", [app.dial.counts, app.dial.editing, screen()])
app.button_down()
app.turn(1)  # hold and click: a person turned away at the closed door, counted
app.button_up()
app.press()
out("turned", [app.store.pending["turned"], app.dial.channel])
app.press()  # a press on a closed channel commits the counts as they are, and moves on
app.turn(2)
app.press()
out("open", [app.dial.counts, app.store.pending["counts"], app.dial.channel])
app.on_message(CONFIG, protocol.encode_config(3, "Maple House", "occupied",
    [("Men", 20), ("Cots", 30)]))
app.turn(1)
out("reopened", ["closed" in app.config, app.dial.counts, screen()[1:3]])
"""
    )
    assert results["kept"] == [[0, 7], [0, 7], False]
    assert results["closed"] == ["Cots 2/2", "CLOSED", "program not open", "sending..."]
    counts, editing, screen = results["refused"]
    assert (counts, editing) == ([0, 7], False)
    assert screen == ["Cots 2/2", "CLOSED", "program not open", "NOT COUNTED"]
    assert results["turned"] == [[{}, {"no_bed": 1}], 1]
    assert results["open"] == [[2, 7], [2, 7], 1]
    assert results["reopened"] == [False, [2, 8], ["8", "of 30  22 free"]]
