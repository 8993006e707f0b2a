"""The 128x64 SSD1306 OLED: draws what dialcore.display.screen(app) says.

Layout (the built-in font is 8x8 pixels, so a line holds 16 characters):

    y  0  shelter name (device id until the server's config arrives)
    y  8  channel label            <- rows 0-15 are yellow on two-colour modules
    y 19  COUNT in 24-pixel digits (the 8x8 font drawn 3x: 5 digits fit, up to 99999)
    y 46  "of 40  12 free"
    y 56  state line; inverted (light bar) when it needs attention: OFFLINE, NOT SAVED

Without a screen (unplugged, wrong address) the dial still works: every call does
nothing and the LED tells the state. The driver is micropython-lib's ssd1306
(installed in the board's lib/ by `shelter-signal device flash`: server/provision.py).
"""

import asyncio

import framebuf
from dialcore import display
from dialcore.clock import ticks_add, ticks_diff, ticks_ms

WIDTH, HEIGHT = 128, 64  # the 0.96" SSD1306 module
CHARS = WIDTH // 8  # 16 characters of the 8x8 font per line
SCALE = 3  # count digits 24 px tall: readable from across the desk, 5 digits still fit
REFRESH_MS = 200  # ~5 Hz: turning looks smooth; unchanged frames are not resent
ALERT_STATES = (display.OFFLINE, display.REJECTED)
NOTICE_LINES = 6  # under the title bar, 9 px apart from y 12 to 57 (the font's last row is blank)
PAGE_MS = 6000  # one page of a notice: time to read six short lines


def _fit(text):
    text = str(text)
    return text if len(text) <= CHARS else text[: CHARS - 1] + "~"


def wrap(text, width=CHARS):
    """Split text into lines of at most width characters, at spaces where possible."""
    lines = []
    for word in str(text).split():
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] = lines[-1] + " " + word
        else:
            lines.append(word)
    return lines


class Screen:
    def __init__(self, i2c, address, flip=False, fallback_title=""):
        self.fallback_title = fallback_title
        self._last = None  # the last screen dict drawn
        # A show_for notice stays up until then; None when there is none. Never a tick kept
        # for longer: after 6.2 days a ticks_diff with it turns sign (the ticks wrap at 2^30
        # ms), and a deadline kept from the start had the screen stop redrawing for 6.2 days.
        self._notice_until = None
        # One 8x8 glyph, reused for every big digit: no allocation per frame.
        self._glyph = framebuf.FrameBuffer(bytearray(8), 8, 8, framebuf.MONO_HLSB)
        self.oled = None
        self.missing = None  # why the driver would not import: board/start.py names it
        try:
            import ssd1306  # pyright: ignore[reportMissingImports]  (device flash puts it in lib/)

            self.oled = ssd1306.SSD1306_I2C(WIDTH, HEIGHT, i2c, addr=address)
            if flip and hasattr(self.oled, "rotate"):
                self.oled.rotate(True)
        except ImportError as e:  # not installed: a broken install, not a missing screen
            self.missing = str(e)
        except OSError as e:  # nothing answers at that address: the dial works without
            print("screen: none at I2C address", address, "-", repr(e))

    def _line(self, oled, text, y, invert=False, center=True):
        text = _fit(text)
        x = (WIDTH - 8 * len(text)) // 2 if center else 0
        if invert:
            oled.fill_rect(0, y - 1, WIDTH, 9, 1)
        oled.text(text, x, y, 0 if invert else 1)

    def _big(self, oled, text, y):
        """Draw text with the 8x8 font scaled SCALE times, centred."""
        glyph = self._glyph
        scale = SCALE if len(text) * 8 * SCALE <= WIDTH else 2
        x = (WIDTH - len(text) * 8 * scale) // 2
        for ch in text:
            glyph.fill(0)
            glyph.text(ch, 0, 0, 1)
            for row in range(8):
                for col in range(8):
                    if glyph.pixel(col, row):
                        oled.fill_rect(x + col * scale, y + row * scale, scale, scale, 1)
            x += 8 * scale

    def draw(self, screen):
        """Draw a display.screen() dict (only if it changed since the last one)."""
        oled = self.oled
        if oled is None or screen == self._last:
            return
        self._last = screen
        oled.fill(0)
        self._line(oled, screen["title"] or self.fallback_title, 0)
        self._line(oled, screen["label"], 8)
        self._big(oled, screen["count"], 19)
        self._line(oled, screen["detail"], 46)
        self._line(oled, screen["state_text"], 56, invert=screen["state"] in ALERT_STATES)
        oled.show()

    def notice(self, title, lines):
        """A full-screen notice: the title in a light bar, then up to NOTICE_LINES lines."""
        oled = self.oled
        if oled is None:
            return
        self._last = None
        oled.fill(0)
        self._line(oled, title, 1, invert=True)
        for i, line in enumerate(lines[:NOTICE_LINES]):
            self._line(oled, line, 12 + 9 * i, center=False)
        oled.show()

    async def pages(self, pages, beat):
        """Forever: show each (title, lines) notice PAGE_MS in turn (one stays put)."""
        while True:
            for title, lines in pages:
                try:
                    self.notice(title, lines)
                except OSError as e:  # an I2C hiccup: the next page tries again
                    print("screen: I2C error", e)
                for _ in range(PAGE_MS // 1000):  # 1 s steps: the supervisor sees us alive
                    beat()
                    await asyncio.sleep(1)

    def show_for(self, title, lines, ms):
        """Show a notice instead of the count for `ms` (the long-press connection details)."""
        self._notice_until = ticks_add(ticks_ms(), ms)
        try:
            self.notice(title, lines)
        except OSError as e:
            print("screen: I2C error", e)

    def dismiss(self):
        """End a show_for notice now: the next frame draws the app's screen again."""
        self._notice_until = None

    async def run(self, app, beat):
        """Forever: redraw the app's screen REFRESH_MS apart."""
        while True:
            try:
                until = self._notice_until
                if until is not None and ticks_diff(until, ticks_ms()) <= 0:
                    self._notice_until = until = None  # the notice is over
                if until is None:
                    self.draw(display.screen(app))
            except OSError as e:  # an I2C hiccup (loose cable): try again next frame
                print("screen: I2C error", e)
                self._last = None
            beat()
            await asyncio.sleep_ms(REFRESH_MS)
