"""Shelter Signal dial on an ESP32: MicroPython runs this file at every start.

1. Read /device_config.json (dialcore.devconfig). If it won't do, the screen and the log
   name the bad key, the LED blinks fast, and the dial waits to be fixed (no watchdog).
2. Button held at power-up: maintenance mode, the app does not start (for mpremote).
3. Otherwise build the App (dialcore) with the flash Store, the mqtt_as transport and
   NTP time, start one task per part, and let a supervisor feed the hardware watchdog
   only while every task is alive.
"""

import asyncio
import sys
import time

import machine
import micropython
from board.button import Button
from board.encoder import Encoder
from board.led import FAST, OFF, Led, pattern_for
from board.net import Net
from board.screen import Screen
from board.transport import MqttTransport
from dialcore import FIRMWARE_VERSION, devconfig, display
from dialcore.app import App
from dialcore.clock import ticks_diff, ticks_ms
from dialcore.store import Store
from machine import I2C, WDT, Pin

CONFIG_PATH = "/device_config.json"
STATE_PATH = "/state.json"
I2C_HZ = 400000  # SSD1306 fast mode: a whole frame (1 KB) goes out in about 25 ms
# Hardware watchdog: resets the ESP32 when not fed for this long. It must outlast the
# longest legitimate blocking call, which stops every task: a DNS lookup with a dead DNS
# server (lwIP retries, ~15-20 s), a TLS handshake (a few s). A hung dial is back within
# STALE_MS + WDT_MS (~80 s) with its counts from flash.
WDT_MS = 60000
STALE_MS = 20000  # a task silent this long is hung: stop feeding (loops beat every <=1 s)
CHECK_MS = 1000  # supervisor period: feeds well inside WDT_MS
RESTART_S = 10  # after a crash before the watchdog runs: time to read the log, then reset


class Heartbeats:
    """Each task's last sign of life (ticks_ms), for the supervisor."""

    def __init__(self):
        self.last = {}

    def beater(self, name):
        self.last[name] = ticks_ms()

        def beat():
            self.last[name] = ticks_ms()

        return beat

    def stale(self, now):
        return [name for name in self.last if ticks_diff(now, self.last[name]) > STALE_MS]


def _nothing():
    pass


async def halt(screen, led, title, text):
    """Show why the dial cannot run and wait (no watchdog: a reset would not fix it)."""
    screen.message(title, text)
    led.pattern = FAST
    await led.run(None, _nothing)


async def supervise(wdt, beats, tasks, app):
    """Feed the watchdog only while no task has ended and every loop beats."""
    complained = False
    while True:
        dead = [name for name in tasks if tasks[name].done()]
        now = ticks_ms()
        stale = beats.stale(now)
        if ticks_diff(now, app.alive_at) > STALE_MS:
            stale.append("app")
        if dead or stale:
            if not complained:
                print("watchdog: reset within", WDT_MS // 1000, "s; ended:", dead, "hung:", stale)
                complained = True
        else:
            wdt.feed()
        await asyncio.sleep_ms(CHECK_MS)


def log_config(cfg):
    shown = devconfig.masked(cfg)
    for key, _, _, _, _ in devconfig.KEYS:
        print("config:", key, "=", repr(shown[key]))
    print("config: pins =", shown["pins"])


async def main():
    print("Shelter Signal dial, firmware", FIRMWARE_VERSION)
    try:
        cfg, error = devconfig.read(CONFIG_PATH), None
    except ValueError as e:
        cfg, error = devconfig.defaults(), str(e)  # default pins, to show the error
    pins = cfg["pins"]
    led = Led(pins["led"])
    i2c = I2C(0, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=I2C_HZ)
    screen = Screen(i2c, cfg["oled_address"], cfg["screen_flip"], cfg["device_id"] or "")
    if error is None:
        log_config(cfg)
        try:
            transport = MqttTransport(cfg)  # reads the CA file when mqtt_tls is set
        except ValueError as e:
            error = str(e)
    if error is not None:
        await halt(screen, led, "CONFIG ERROR", error)
        return

    button = Button(pins["encoder_switch"])
    if button.pressed():
        led.pattern = OFF
        screen.message("MAINTENANCE", "Button held at start: dial stopped. Press EN to restart.")
        return  # to the REPL, without a watchdog that would reset it

    net = Net(cfg["ntp_host"])
    app = App(
        cfg["device_id"],
        Store(STATE_PATH),
        transport,
        settle_ms=cfg["settle_ms"],
        telemetry_s=cfg["telemetry_s"],
        unix_time=net.unix_time,
        health=net.health,
    )
    encoder = Encoder(pins["encoder_a"], pins["encoder_b"])
    print("encoder: counting with", encoder.kind, "- boot", app.store.boot)
    beats = Heartbeats()
    tasks = {
        "app": asyncio.create_task(app.run()),
        "encoder": asyncio.create_task(encoder.run(app.turn, beats.beater("encoder"))),
        "button": asyncio.create_task(button.run(app.press, app.resend, beats.beater("button"))),
        "screen": asyncio.create_task(screen.run(app, beats.beater("screen"))),
        "led": asyncio.create_task(
            led.run(lambda: pattern_for(display.state(app)), beats.beater("led"))
        ),
        "clock": asyncio.create_task(net.keep_time(beats.beater("clock"))),
    }
    await supervise(WDT(timeout=WDT_MS), beats, tasks, app)


micropython.alloc_emergency_exception_buf(100)  # lets an interrupt handler's error be reported
try:
    asyncio.run(main())
except Exception as e:  # not KeyboardInterrupt: Ctrl-C (mpremote) leaves us at the REPL
    sys.print_exception(e)
    print("restarting in", RESTART_S, "s")
    time.sleep(RESTART_S)
    machine.reset()
finally:
    asyncio.new_event_loop()  # a clean scheduler if main() is run again from the REPL
