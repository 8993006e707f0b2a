"""What the desk records beside the counts: holds and turn-aways (docs/protocol.md).

Holds are places held by outreach workers for people on their way. The server sends a
channel's holds in its config ({"id", "code", "until"}). The screen shows "1 HELD 42m" in
place of the shelter's name; the desk ends a hold as arrived (the person is counted in by
the same commit) or released. Imported only when a dial has holds or turns someone away,
so a dial without keeps its heap (tests/firmware/dialcore: the heap test).
"""

from .clock import ticks_diff, ticks_ms

NOTICE_MS = 3000  # how long "TURNED AWAY" shows: a glance, then the usual SAVED
TURNED_TEXT = {"no_bed": "TURNED AWAY: NO BED", "not_eligible": "AWAY: NOT ELIGIBLE"}


def turned_away(app, reason, channel=None):
    """One more person turned away at `channel` for `reason` in this boot's running totals;
    (reason, ticks) for the screen."""
    channel = app.dial.channel if channel is None else channel
    turned = app.store.turned
    while len(turned) <= channel:
        turned.append({})
    turned[channel][reason] = turned[channel].get(reason, 0) + 1
    return reason, ticks_ms()


def turned_text(turned, now):
    """What the state line says for NOTICE_MS after a turn-away; None after that."""
    if ticks_diff(now, turned[1]) < NOTICE_MS:
        return TURNED_TEXT.get(turned[0], "TURNED AWAY")
    return None


def held_text(app, channel):
    """ "1 HELD 42m": the channel's holds, with the time left of the soonest to end; without
    a synced clock, no time; None if none (or the config's holds are not readable)."""
    held = app.config["holds"]
    held = held[channel] if channel < len(held) else []
    unix = app.unix_time() if app.unix_time else None
    try:
        if unix is not None:
            held = [h for h in held if h["until"] > unix]  # ended by its time
        if not held:
            return None
        text = str(len(held)) + " HELD"
        if unix is not None:
            text += " " + str((min(h["until"] for h in held) - unix + 59) // 60) + "m"
    except (KeyError, TypeError):  # a malformed hold from the server: show none
        return None
    return text


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
