"""The hardware watchdog, fed only while every task of the dial shows signs of life.

Each task's loop calls its beat() at least every second; the App shows its own heartbeat
(App.alive_at). The supervisor feeds the ESP32's watchdog only while no task has ended and
none has been silent for STALE_MS. A hung or crashed dial so restarts by itself, and
dialcore.resets hears of it: why the watchdog will bite, and when all is well again.
"""

import asyncio

from dialcore.clock import ticks_diff, ticks_ms

# Hardware watchdog: resets the ESP32 when not fed for this long. It must outlast the
# longest legitimate blocking call, which stops every task: a DNS lookup with a dead DNS
# server (lwIP retries, ~15-20 s), a TLS handshake (a few s). A hung dial is back within
# STALE_MS + WDT_MS (~80 s) with its counts from flash.
WDT_MS = 60000
STALE_MS = 20000  # a task silent this long is hung: stop feeding (loops beat every <=1 s)
CHECK_MS = 1000  # supervisor period: feeds well inside WDT_MS
# A publish under way this long is stuck (a QoS 1 publish that gets no PUBACK is sent again
# every RESPONSE_S, 10 s, and after 4 tries mqtt_as reconnects, which ends it): reset.
SEND_STUCK_MS = 120000


class Heartbeats:
    """Each task's last sign of life (ticks_ms), for the supervisor."""

    def __init__(self):
        self._last = {}  # name -> (function returning the ticks of its last beat, limit ms)

    def beater(self, name):
        """A beat() for a task loop to call on every pass."""
        last = [ticks_ms()]

        def beat():
            last[0] = ticks_ms()

        self.watch(name, lambda: last[0])
        return beat

    def watch(self, name, last, limit_ms=STALE_MS):
        """Also watch a heartbeat kept elsewhere: last() returns its ticks; silent for more
        than limit_ms is hung."""
        self._last[name] = (last, limit_ms)

    def stale(self, now):
        hung = []
        for name in self._last:
            last, limit_ms = self._last[name]
            if ticks_diff(now, last()) > limit_ms:
                hung.append(name)
        return hung


def watch_app(beats, app):
    """The App's settle loop beats (app.alive_at). Its sender waits for commits and for the
    link, so it cannot beat: what is watched is that a publish under way ends."""
    beats.watch("app", lambda: app.alive_at)
    beats.watch("sender", lambda: app.sending_since or ticks_ms(), SEND_STUCK_MS)


async def supervise(tasks, beats, resets, check):
    """Forever: feed the watchdog while all is well; check(now, healthy) every CHECK_MS.

    tasks: {name: asyncio task}. Once something is wrong the log and resets say what, and
    the watchdog resets the board within WDT_MS unless the task recovers.
    """
    from machine import WDT  # here: Heartbeats also run where there is no board (tests)

    wdt = WDT(timeout=WDT_MS)
    trouble = None
    while True:
        now = ticks_ms()
        ended = [name for name in tasks if tasks[name].done()]
        hung = beats.stale(now)
        if ended or hung:
            if trouble is None:
                trouble = "ended: " + str(ended) if ended else "hung: " + str(hung)
                print("watchdog: reset within", WDT_MS // 1000, "s;", trouble)
                resets.last_words(trouble)
        else:
            wdt.feed()
            if trouble is not None:
                print("watchdog: all tasks alive again")
                resets.recovered()
                trouble = None
        check(now, trouble is None)
        await asyncio.sleep_ms(CHECK_MS)
