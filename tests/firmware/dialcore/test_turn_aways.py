"""The turn-away gesture on the real MicroPython: hold the button and click the dial once
(clockwise: no bed; anticlockwise: not eligible). Each is a commit carrying the boot's
running totals, so one that replaces an unsent one loses nobody; every other gesture stays
as it was."""

import json

from tests.firmware.dialcore.test_on_micropython import run


def test_hold_and_click_records_turn_aways_and_keeps_the_other_gestures():
    results = run(
        """
from dialcore import display
from dialcore.app import App
from dialcore.store import Store

path = "/data/state.json"
link = Link(path)
app = App("desk-01", Store(path), link, shelter="Maple House", labels=("Men", "Youth"),
          capacities=(20, 8))

def hold_and_click(steps, then_long=False):
    app.button_down()
    app.turn(steps)
    app.turn(steps)  # more clicks in the same hold: still one person
    if then_long:
        out("long_after_gesture", app.resend())
    app.button_up()
    app.press()  # the board's release of a short hold: no commit, no channel change

app.turn(3)
app.press()  # a plain press: commit 1, next channel (Youth)
app.press()  # and back to Men: commit 2
hold_and_click(+1)
out("no_bed", [app.store.seq, app.dial.channel, app.dial.counts, app.store.pending])
out("screen", display.screen(app)["state_text"])
hold_and_click(-1, then_long=True)
app.dial.channel = 1
hold_and_click(+1)
out("pending", app.store.pending)
app.turn(1)
app.press()  # a count after them: still carries the totals
out("after", app.store.pending)
# a reboot: the pending commit keeps its totals; the new boot starts from none
again = App("desk-01", Store(path), link, shelter="Maple House", labels=("Men", "Youth"),
            capacities=(20, 8))
out("reboot", [again.store.boot, again.store.pending["turned"], again.store.turned])
"""
    )
    assert results["no_bed"] == [
        3,
        0,  # still on Men: the gesture moved nothing
        [3, 0],
        {"boot": 1, "seq": 3, "ts": None, "counts": [3, 0], "turned": [{"no_bed": 1}]},
    ]
    assert results["screen"] == "AWAY: NO BED"
    assert results["long_after_gesture"] is False  # no resend, no connection screen
    assert results["pending"]["seq"] == 5
    assert results["pending"]["turned"] == [{"no_bed": 1, "not_eligible": 1}, {"no_bed": 1}]
    assert (results["after"]["seq"], results["after"]["counts"]) == (6, [3, 1])
    assert results["after"]["turned"] == results["pending"]["turned"]
    assert results["reboot"] == [2, results["pending"]["turned"], []]


def test_the_state_message_carries_the_totals_on_micropython():
    results = run(
        """
from dialcore import protocol
out("state", protocol.encode_state(2, 9, "occupied", 1, [(3, 20), (1, 8)], None, "dial",
                                   [{"turned_away": {"no_bed": 2}}, {}]).decode())
"""
    )
    channels = json.loads(results["state"])["channels"]
    assert channels == [
        {"count": 3, "capacity": 20, "turned_away": {"no_bed": 2}},
        {"count": 1, "capacity": 8},  # none here: left out, as old dials send
    ]
