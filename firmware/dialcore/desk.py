"""What the desk records beside the counts: holds, turn-aways and closed programs
(docs/protocol.md).

Holds are places held by outreach workers for people on their way. The server sends a
channel's holds in its config ({"id", "code", "until"}). The screen shows "1 HELD 42m" in
place of the shelter's name; the desk ends a hold as arrived (the person is counted in by
the same commit) or released: with the knob held past the long press (arm), the
screen shows the soonest hold's code and the next click ends it. A closed program's channel
("closed" in the config: a warming centre between its alerts) shows CLOSED and refuses
counts. Imported only when a dial has holds, closed channels or turns someone away, so a
dial without keeps its heap (tests/firmware/dialcore: the heap test).
"""

from .clock import ticks_diff, ticks_ms

NOTICE_MS = 3000  # how long a notice shows: a glance, then the usual SAVED
# The state line after a gesture, at most 16 characters (a line of the 128-pixel screen)
NOTICES = {
    "no_bed": "AWAY: NO BED",
    "not_eligible": "AWAY: INELIGIBLE",
    "arrived": "HOLD: ARRIVED",
    "released": "HOLD RELEASED",
    "closed": "NOT COUNTED",
}


def gesture(app, steps):
    """The first click of a hold of the knob (App.turn): once `arm` chose a hold, clockwise
    it arrived, anticlockwise it is released; else a person turned away, clockwise for want
    of a bed, anticlockwise as not eligible."""
    if app.choosing:
        app.end_hold(app.choosing, "arrived" if steps > 0 else "released")
    else:
        app.turn_away("no_bed" if steps > 0 else "not_eligible")


def turned_away(app, reason, channel=None):
    """One more person turned away at `channel` for `reason` in this boot's running totals;
    (reason, ticks) for the screen."""
    channel = app.dial.channel if channel is None else channel
    turned = app.store.turned
    while len(turned) <= channel:
        turned.append({})
    turned[channel][reason] = turned[channel].get(reason, 0) + 1
    return reason, ticks_ms()


def notice_text(notice, now):
    """What the state line says for NOTICE_MS after a gesture; None after that."""
    if ticks_diff(now, notice[1]) < NOTICE_MS:
        return NOTICES.get(notice[0], "TURNED AWAY")
    return None


def _active(app, channel):
    """The channel's holds not ended by their time (without a synced clock: all), soonest
    to end first; [] if the config's holds are not readable."""
    held = app.config.get("holds") or []
    held = held[channel] if channel < len(held) else []
    unix = app.unix_time() if app.unix_time else None
    try:
        held = [h for h in held if unix is None or h["until"] > unix]
        held.sort(key=lambda h: h["until"])
        return held
    except (KeyError, TypeError):  # a malformed hold from the server: show none
        return []


def held_text(app, channel):
    """ "1 HELD 42m": the channel's holds, with the time left of the soonest to end; without
    a synced clock, no time; None if none."""
    held = _active(app, channel)
    if not held:
        return None
    text = str(len(held)) + " HELD"
    unix = app.unix_time() if app.unix_time else None
    if unix is not None:
        text += " " + str((held[0]["until"] - unix + 59) // 60) + "m"
    return text


def arm(app):
    """The knob held HOLD_MS (board/button.py) with no click yet: the current channel's
    soonest hold is the one the next click of this hold ends (App.turn); True if there is
    one (the screen then shows it: desk_screen)."""
    if app._held and not app._gestured:
        held = _active(app, app.dial.channel)
        app.choosing = held[0].get("id") if held else None
    return bool(app.choosing)


def end(app, hold_id, how, channel=None):
    """Change the counts for ending `hold_id` as `how` ("arrived": the person is counted in;
    "released") and drop it from the screen; the {channel: {hold id: how}} to commit."""
    dial = app.dial
    channel = dial.channel if channel is None else channel
    if how == "arrived":  # one more in use, one less free
        step = 1 if app.config["mode"] == "occupied" else -1
        dial.counts[channel] = min(max(dial.counts[channel] + step, 0), dial.capacities[channel])
    held = app.config.get("holds") or []
    if channel < len(held):
        held[channel] = [h for h in held[channel] if h.get("id") != hold_id]
    app.notice, app.choosing = (how, ticks_ms()), None
    return {channel: {str(hold_id): how}}


def merged(carried, ended, channels):
    """Per channel, the holds ended by this commit and by one it replaces before its ack
    (ending a hold twice changes nothing on the server; losing one would leave it held)."""
    both = carried or [{} for _ in range(channels)]
    for i, ends in (ended or {}).items():
        both[i].update(ends)
    return both


def extra_fields(pending):
    """Per channel, a commit's fields beyond count and capacity (protocol.encode_state)."""
    extra = [{} for _ in pending["counts"]]
    fields = (("turned_away", pending.get("turned")), ("holds_ended", pending.get("ended")))
    for key, values in fields:
        for i, value in enumerate(values or ()):
            if value and i < len(extra):
                extra[i][key] = value
    return extra


def _closed(app, channel):
    """The channel as the config sent it if its program is closed, else None."""
    closed = app.config["closed"]
    return closed[channel] if channel < len(closed) else None


def closed_turn(app, steps):
    """The steps a turn may count: none on a closed channel, which says so on the screen."""
    if steps and _closed(app, app.dial.channel):
        app.notice = "closed", ticks_ms()
        return 0
    return steps


def keep_closed(app):
    """A closed channel keeps the count the server has from this dial (its config's "count"):
    a count changed as the program closed, refused by the server, goes back to it, and every
    commit from then on carries the count the server expects there (docs/protocol.md)."""
    dial, counts = app.dial, app.store.counts
    for i in range(len(dial.counts)):
        kept = (_closed(app, i) or {}).get("count")
        if isinstance(kept, int) and 0 <= kept <= dial.capacities[i]:
            dial.counts[i] = dial.committed[i] = kept
            if i < len(counts):
                counts[i] = kept


def desk_screen(app, shown):
    """Change display.screen's texts for a hold's choice (the knob held past the long press)
    or a closed channel."""
    ch = app.dial.channel
    if app.choosing:
        code = [h.get("code") for h in _active(app, ch) if h.get("id") == app.choosing]
        shown["title"] = held_text(app, ch) or "HELD"
        shown["label"] = "right: ARRIVED"
        shown["count"] = str(code[0] if code else app.choosing)
        shown["detail"] = "left: RELEASED"
        shown["state_text"] = "let go: cancel"
    elif "closed" in app.config and _closed(app, ch):
        shown["count"] = "CLOSED"
        shown["detail"] = "program not open"
