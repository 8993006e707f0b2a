"""Staying alive: when the dial restarts itself, and when it starts in safe mode.

The ESP32 layer (main.py) reports what happens; this module decides, and remembers across
restarts in a small JSON file, without touching hardware (so it runs, and is tested, on
CPython and MicroPython alike).

- A crash is an unhandled error in main.py or a reset by the hardware watchdog. After
  SAFE_AFTER crashes in a row the dial starts in safe mode (main.py: networking and the
  setup form only). The count is cleared once the dial has run HEALTHY_MS without trouble,
  when the setup form saves new settings, or when someone holds the button in safe mode.
- A dial that has not reached the broker for `offline_reboot_min` restarts: Wi-Fi and
  network stacks that got stuck start afresh, and the counts are on flash.
"""

from .clock import ticks_diff
from .store import load_json, write_json

SAFE_AFTER = 3  # one crash can be bad luck and two a coincidence; three in a row is a loop
HEALTHY_MS = 10 * 60 * 1000  # a loop restarts within minutes; 10 calm minutes end the series
WHY_CHARS = 80  # enough for "watchdog: hung: ['app']" or an exception; the file stays small
# The note left when Ctrl-C (mpremote) stops the dial: the watchdog keeps running and resets
# the board a minute later, which is then no crash.
INTERRUPTED = "interrupted at the REPL"


class Resets:
    def __init__(self, path):
        self.path = path
        data = load_json(path) or {}
        self.crashes = data.get("crashes", 0)  # crashes in a row, not cleared by a restart
        self.why = data.get("why")  # what the last crash was
        # What the supervisor saw just before it stopped feeding the watchdog, so that the
        # watchdog reset it leads to can say why.
        self._last_words = data.get("last_words")
        self._healthy_since = None  # ticks since which every task has been alive

    def _save(self):
        write_json(
            self.path, {"crashes": self.crashes, "why": self.why, "last_words": self._last_words}
        )

    def started(self, watchdog_reset):
        """At every start: a reset by the watchdog counts as a crash (unless Ctrl-C led to it)."""
        last_words, self._last_words = self._last_words, None
        if watchdog_reset and last_words != INTERRUPTED:
            self.crashed("watchdog: " + (last_words or "no sign of life"))
        elif last_words is not None:
            self._save()
        return self

    @property
    def safe_mode(self):
        return self.crashes >= SAFE_AFTER

    def summary(self):
        """For the screen, the log and the setup page: how many crashes, and the last one."""
        return str(self.crashes) + " crashes in a row, last: " + str(self.why)

    def crashed(self, why):
        self.crashes += 1
        self.why = str(why)[:WHY_CHARS]
        self._save()

    def last_words(self, why):
        """The watchdog is about to reset the board (or Ctrl-C stopped it): remember why."""
        self._last_words = str(why)[:WHY_CHARS]
        self._save()

    def recovered(self):
        """The trouble passed and the watchdog is fed again: forget the last words."""
        if self._last_words is not None:
            self._last_words = None
            self._save()

    def clear(self):
        """Start a new series: the dial ran well, or someone changed something."""
        if self.crashes or self.why is not None or self._last_words is not None:
            self.crashes, self.why, self._last_words = 0, None, None
            self._save()

    def check(self, now, healthy):
        """The supervisor's verdict, every check: clears the series after HEALTHY_MS of health."""
        if not healthy:
            self._healthy_since = None
        elif self._healthy_since is None:
            self._healthy_since = now
        elif ticks_diff(now, self._healthy_since) >= HEALTHY_MS:
            self.clear()


def offline_too_long(offline_ms, limit_min):
    """True once the broker has been out of reach for limit_min minutes: time to restart."""
    return offline_ms >= limit_min * 60000
