"""What the screen says: one state line answering "did it save?", and the count."""

from firmware.dialcore import display
from firmware.dialcore.clock import ticks_add
from tests.firmware.dialcore.test_app import ack, config, make_app


def online_app(tmp_path, **options):
    app = make_app(tmp_path, **options)
    app.transport.connected = True
    app.offline_since = None  # what the app's on_up does
    return app


def test_ready_before_the_first_commit(tmp_path):
    app = online_app(tmp_path)
    assert display.state(app) == display.READY
    assert display.screen(app) == {
        "title": "Maple House",
        "label": "Beds",
        "count": "0",
        "detail": "of 20  20 free",
        "state": "ready",
        "state_text": "ready",
    }


def test_editing_while_turning_and_not_yet_settled(tmp_path):
    app = online_app(tmp_path)
    app.turn(3)
    screen = display.screen(app)
    assert (screen["state"], screen["state_text"]) == ("editing", "release to save")
    assert (screen["count"], screen["detail"]) == ("3", "of 20  17 free")


def test_sending_while_a_commit_waits_for_its_ack(tmp_path):
    app = online_app(tmp_path)
    app.turn(3)
    app.press()
    screen = display.screen(app)
    assert (screen["state"], screen["state_text"]) == ("sending", "sending...")


def test_saved_once_the_server_acknowledges(tmp_path):
    app = online_app(tmp_path)
    app.turn(3)
    app.press()
    ack(app, 1, 1)
    screen = display.screen(app)
    assert (screen["state"], screen["state_text"], screen["count"]) == ("saved", "SAVED", "3")


def test_offline_shows_for_how_many_minutes(tmp_path):
    app = make_app(tmp_path)  # not connected since it started
    app.press()
    since = app.offline_since
    assert display.state(app) == display.OFFLINE
    assert display.screen(app, now=ticks_add(since, 59999))["state_text"] == "OFFLINE <1 min"
    assert display.screen(app, now=ticks_add(since, 3 * 60000 + 5))["state_text"] == (
        "OFFLINE 3 min"
    )


def test_rejected_shows_the_servers_reason_even_when_offline(tmp_path):
    app = online_app(tmp_path)
    app.press()
    ack(app, 1, 1, "rejected", "count 21 above capacity 20 on channel 0")
    screen = display.screen(app)
    assert screen["state"] == "rejected"
    assert screen["state_text"] == "NOT SAVED: count 21 above capacity 20 on channel 0"
    app.transport.connected = False
    assert display.state(app) == display.REJECTED


def test_editing_wins_over_every_other_state(tmp_path):
    app = make_app(tmp_path)  # offline
    app.turn(1)
    assert display.state(app) == display.EDITING


def test_several_channels_and_free_mode(tmp_path):
    app = online_app(tmp_path)
    config(app, 1, [("Men", 40), ("Youth", 8)], mode="free")
    app.press()  # commit channel 1, move to channel 2
    app.turn(5)
    screen = display.screen(app)
    assert (screen["label"], screen["count"], screen["detail"]) == (
        "Youth 2/2",
        "5",
        "of 8  5 free",
    )


def test_every_fixed_state_line_fits_the_screen():
    """The state line holds 16 characters of the 8x8 font (board/screen.py cuts the rest to
    a "~"): the desk's notices read whole, "AWAY: NO BED" rather than "TURNED AWAY: NO~"."""
    from firmware.dialcore.desk import NOTICES

    chars = 16  # board/screen.py's CHARS: 128 px of 8 px glyphs (it needs framebuf to import)
    texts = [*display.TEXTS.values(), *NOTICES.values(), "OFFLINE 1440 min"]  # a day offline
    assert [t for t in texts if len(t) > chars] == []
