"""The desk card says what the dial really does: screen texts, LED, times, who to call."""

import xml.etree.ElementTree as ET

from firmware.dialcore import display
from firmware.dialcore.clock import ticks_add
from hardware.tools import HARDWARE, ROOT, card, firmware_facts
from tests.firmware.dialcore.test_app import ack, make_app


def _online(tmp_path):
    app = make_app(tmp_path)
    app.transport.connected = True
    app.offline_since = None  # what the app's on_up does
    return app


def _in_state(state, tmp_path):
    """A dial in `state` and the time to look at it."""
    if state == display.OFFLINE:
        app = make_app(tmp_path)
        app.press()
        return app, ticks_add(app.offline_since, 5 * 60000)  # five minutes offline
    app = _online(tmp_path)
    if state != display.READY:
        app.turn(3)
    if state in (display.SENDING, display.SAVED, display.REJECTED):
        app.press()
    if state == display.SAVED:
        ack(app, 1, 1)
    if state == display.REJECTED:
        ack(app, 1, 1, "rejected", "...")
    return app, None


def test_every_screen_state_is_explained_with_the_firmwares_own_words(tmp_path):
    lines = card.screen_lines()
    states = {v for k, v in vars(display).items() if k.isupper() and isinstance(v, str)}
    assert sorted(s for _, s, _ in lines if s) == sorted(states)
    for shown, state, _meaning in lines:
        if state is None:
            continue
        (tmp_path / state).mkdir()
        app, now = _in_state(state, tmp_path / state)
        screen = display.screen(app, now)
        assert (screen["state"], screen["state_text"]) == (state, shown)


def test_the_whole_screen_notices_are_the_ones_main_py_shows():
    main = (ROOT / "firmware" / "board" / "start.py").read_text()  # what main.py starts
    for shown, state, _meaning in card.screen_lines():
        if state is None:
            assert f'"{shown}"' in main


def test_the_card_quotes_the_firmwares_times_and_led_patterns():
    text = card.svg_text()
    assert "2 seconds later it saves by itself" in text  # devconfig's settle_ms default
    assert "Hold the knob 1 s" in text  # board/button.py LONG_MS
    assert "knob 3 s until their code shows" in text  # board/button.py HOLD_MS: the hold gesture
    patterns = firmware_facts.led_patterns()
    assert patterns[display.SAVED] == "solid" and patterns[display.OFFLINE] == "fast"
    for shown, state, meaning in card.screen_lines():
        assert shown in text and meaning.split()[0] in text
        assert card.LED_WORDS[patterns[state] if state else card.NOTICE_LED[shown]] in text


def test_it_says_who_to_call_or_leaves_a_line_for_it():
    with_contact = card.svg_text("Sam (IT volunteer), 416-555-0199")
    assert "Sam (IT volunteer), 416-555-0199" in with_contact
    blank = ET.fromstring(card.svg_text().encode())
    assert len(list(blank.iter("{http://www.w3.org/2000/svg}line"))) == 2  # rule, write-in line


def test_free_mode_words_the_turn_for_free_beds():
    assert "one more free bed" in card.svg_text(mode="free")
    assert "one more person in" in card.svg_text()


def test_the_card_in_the_repository_is_current():
    assert (HARDWARE / "quick-reference.svg").read_text() == card.svg_text()
