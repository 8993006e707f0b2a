"""What the screen shows, as plain data; the ESP32 layer draws it on the SSD1306.

The state line answers the one question staff have after turning the dial: did it
save? Order matters: what is happening now wins over what happened before.
"""

from .clock import ticks_ms

EDITING, SENDING, SAVED, OFFLINE, REJECTED, READY = (
    "editing",
    "sending",
    "saved",
    "offline",
    "rejected",
    "ready",
)

# What the state line says in the states whose text never changes; built once, not at
# every frame (5 a second: board/screen.py), which the heap's garbage would feel
TEXTS = {EDITING: "release to save", SENDING: "sending...", SAVED: "SAVED", READY: "ready"}


def state(app, now=None):
    if app.dial.editing:
        return EDITING  # still turning: the settle timer runs
    if app.rejected:
        return REJECTED
    if not app.connected:
        return OFFLINE
    if app.store.pending is not None:
        return SENDING
    return SAVED if app.store.acked_seq else READY


def _minutes(ms):
    minutes = ms // 60000
    return "<1 min" if minutes < 1 else str(minutes) + " min"


def _title(app, channel):
    """The shelter's name, which matters least at its own desk: a hold takes its line."""
    if app.config.get("holds"):
        from .desk import held_text  # only with holds: the heap stays small without

        return held_text(app, channel) or app.config["shelter"]
    return app.config["shelter"]


def screen(app, now=None):
    """Return a dict of the texts to draw: title, label, count, detail, state, state_text."""
    now = ticks_ms() if now is None else now
    dial = app.dial
    ch = dial.channel
    count, cap = dial.counts[ch], dial.capacities[ch]
    free = count if app.config["mode"] == "free" else cap - count
    label = app.labels[ch] if ch < len(app.labels) else ""
    if len(dial.counts) > 1:
        label = label + " " + str(ch + 1) + "/" + str(len(dial.counts))
    current = state(app, now)
    if current == OFFLINE:
        text = "OFFLINE " + _minutes(app.offline_ms(now))
    elif current == REJECTED:
        text = "NOT SAVED: " + str(app.rejected)
    else:
        text = TEXTS[current]
    if app.notice and current in (SENDING, SAVED, OFFLINE, READY):
        from .desk import notice_text  # imported when used: see desk.py

        text = notice_text(app.notice, now) or text
    shown = {
        "title": _title(app, ch),
        "label": label,
        "count": str(count),
        "detail": "of " + str(cap) + "  " + str(free) + " free",
        "state": current,
        "state_text": text,
    }
    if app.choosing or "closed" in app.config:
        from .desk import desk_screen  # a hold's choice, a closed channel: see desk.py

        desk_screen(app, shown)
    return shown
