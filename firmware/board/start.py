"""Start-up of the Shelter Signal dial: main.py (the loader) calls run() at every start.

It starts the dial in one of three ways:

- setup: no /device_config.json yet, a broken one, or the button held at power-up. The
  dial opens its setup Wi-Fi with a web form (board/setup_ap.py), and the screen says how
  to reach it and what is wrong. No watchdog: someone is at the dial, a reset fixes nothing.
- safe mode: the last starts ended in crashes (dialcore/resets.py). Only the screen, the
  button, the broker link saying "alive" (board/safe_mode.py) and the setup Wi-Fi run,
  under the watchdog. Holding the button tries the dial again.
- the dial: the App (dialcore) with the flash Store, the mqtt_as transport and NTP time,
  one task per part, and a supervisor that feeds the hardware watchdog while every task
  is alive (board/supervisor.py). Without its broker for offline_reboot_min, it restarts.

An unhandled error restarts the board after RESTART_S; it counts as a crash, as does a
reset by the watchdog. A library that is not installed (mqtt_as, or machine.Encoder on a
MicroPython older than 1.26) is named on the screen instead: restarting would not help.
Without the screen's driver (ssd1306) there is no screen to name it on: the dial opens its
setup Wi-Fi, whose page names it, and blinks as in setup, rather than count unseen.
"""

import asyncio
import gc
import sys
import time

import machine
from dialcore import FIRMWARE_VERSION, display
from dialcore.app import App
from dialcore.resets import INTERRUPTED, Resets, offline_too_long
from dialcore.store import Store
from dialcore.update import Updater
from machine import I2C, Pin

from board.button import Button
from board.led import FAST, OFF, Led, pattern_for
from board.net import Net
from board.screen import Screen, wrap
from board.supervisor import Heartbeats, supervise, watch_app

# Relative to the working directory, which is the flash's root on the ESP32 ("/"); the
# virtual dial in the tests runs in a folder of its own.
CONFIG_PATH = "device_config.json"
STATE_PATH = "state.json"
RESETS_PATH = "resets.json"
I2C_HZ = 400000  # SSD1306 fast mode: a whole frame (1 KB) goes out in about 25 ms
RESTART_S = 10  # after an unhandled error: time to read the log, then reset
SAVED_S = 2  # after the setup form saved: time for the "Saved" page to reach the phone
SETUP = "WI-FI SETUP"  # the screen page that says how to reach the setup form
DETAILS_MS = 8000  # long-press connection details: long enough to read out over the phone
# SETUP_ONLY: the setup form (board/setup_ap.py, dialcore/setup_form.py) and safe mode are
# imported where they are used, not here: 19 KB of heap (measured on the Unix port, .mpy)
# that a counting dial, whose heap is tight on an ESP32 (docs/benchmarks.md), never needs.
# Said on the screen when an import fails (firmware/README.md, "Flashing MicroPython").
INSTALL = "The dial needs MicroPython 1.26+ with mqtt_as and ssd1306 (firmware/README.md)"


def _nothing():
    pass


def restart(why):
    print("restart:", why)
    machine.reset()


def read_config():
    """(the file's contents or None, config, problem or None); defaults where it won't do.

    Logs the config, secrets masked, when it is good. devconfig is then forgotten: 11.5 KB of
    heap (its checks and key table, .mpy on the Unix port) a counting dial needs only at
    boot. The setup form imports it again when it needs it."""
    from dialcore import devconfig

    raw, cfg, problem = _read_config(devconfig)
    if problem is None:
        shown = devconfig.masked(cfg)
        for key, _, _, _, _ in devconfig.KEYS:
            print("config:", key, "=", repr(shown[key]))
        print("config: pins =", shown["pins"])
    del sys.modules["dialcore.devconfig"]
    del sys.modules["dialcore"].devconfig  # pyright: ignore[reportAttributeAccessIssue]
    return raw, cfg, problem


def _read_config(devconfig):
    try:
        raw = devconfig.read_raw(CONFIG_PATH)
    except ValueError as e:  # not JSON
        return None, devconfig.defaults(), str(e)
    if raw is None:
        return None, devconfig.defaults(), None
    try:
        return raw, devconfig.load(raw), None
    except ValueError as e:
        return raw, devconfig.defaults(), str(e)


async def restart_when_saved(ap, resets):
    """Once the setup form has saved new settings: a fresh start, out of safe mode too."""
    await ap.saved.wait()
    resets.clear()
    await asyncio.sleep(SAVED_S)
    restart("new settings saved")


async def setup(screen, led, raw, resets, title=None, problem=None):
    """Offer the setup Wi-Fi and form; title and problem, if given, say why (screen, page)."""
    from board.setup_ap import SetupAP  # see SETUP_ONLY

    pages = []
    notice = None
    if title and problem:
        notice = title + ": " + problem
        print(notice)
        pages.append((title, wrap(problem)))
    ap = SetupAP(CONFIG_PATH, raw, notice)
    pages.append((SETUP, ap.screen_lines()))
    await asyncio.gather(
        screen.pages(pages, _nothing),
        led.run(None, _nothing),
        ap.serve(_nothing),
        restart_when_saved(ap, resets),
    )


async def safe_mode(cfg, raw, transport, screen, led, button, resets):
    from board.safe_mode import SafeReporter  # see SETUP_ONLY
    from board.setup_ap import SetupAP

    why = resets.summary()
    print("safe mode:", why)
    net = Net(cfg["ntp_host"], cfg["ntp_port"])
    reporter = SafeReporter(cfg["device_id"], transport, STATE_PATH, cfg["telemetry_s"], net.health)
    ap = SetupAP(CONFIG_PATH, raw, "SAFE MODE: " + why)
    pages = [
        ("SAFE MODE", wrap(why + ". Hold the button to try again.")),
        (SETUP, ap.screen_lines()),
    ]
    led.pattern = FAST

    def retry():  # long press
        resets.clear()
        restart("button held in safe mode: trying the dial again")

    beats = Heartbeats()
    tasks = {
        "report": asyncio.create_task(reporter.run(beats.beater("report"))),
        "setup": asyncio.create_task(ap.serve(beats.beater("setup"))),
        "screen": asyncio.create_task(screen.pages(pages, beats.beater("screen"))),
        "led": asyncio.create_task(led.run(None, beats.beater("led"))),
        "button": asyncio.create_task(button.run(_nothing, retry, beats.beater("button"))),
        "saved": asyncio.create_task(restart_when_saved(ap, resets)),
    }

    def check(now, healthy):  # safe mode never ends the crash series by itself
        if offline_too_long(reporter.offline_ms(now), cfg["offline_reboot_min"]):
            restart("no broker for " + str(cfg["offline_reboot_min"]) + " min")

    await supervise(tasks, beats, resets, check)


async def run_dial(cfg, transport, screen, led, button, resets, Encoder):
    pins = cfg["pins"]
    net = Net(cfg["ntp_host"], cfg["ntp_port"], lambda: transport.connected)
    updater = Updater(cfg["device_id"], transport)
    app = App(
        cfg["device_id"],
        Store(STATE_PATH),
        transport,
        settle_ms=cfg["settle_ms"],
        telemetry_s=cfg["telemetry_s"],
        unix_time=net.unix_time,
        health=net.health,
        extras=[updater],
    )
    encoder = Encoder(pins["encoder_a"], pins["encoder_b"])
    print("boot", app.store.boot, "- uptime counted from here")
    broker = cfg["mqtt_host"] + ":" + str(cfg["mqtt_port"])

    def long_press():  # send the newest count again and show how the dial is connected
        if not app.resend():  # the hold was a turn-away gesture
            return
        from dialcore.connection import details  # at the first long press: see its docstring

        lines = details(app, cfg["wifi_ssid"], broker, net.rssi())
        screen.show_for("CONNECTION", lines, DETAILS_MS)

    def hold_gesture():  # held HOLD_MS: the soonest hold's page, the next click ends it
        if "holds" in app.config:
            from dialcore.desk import arm  # only on a dial with holds: see its docstring

            if arm(app):
                screen.dismiss()  # in place of the connection details

    beats = Heartbeats()
    watch_app(beats, app)
    tasks = {
        "app": asyncio.create_task(app.run()),
        "encoder": asyncio.create_task(
            encoder.run(
                app.turn,
                beats.beater("encoder"),
                lambda: app.dial.capacities[app.dial.channel],  # big channels accelerate
            )
        ),
        "button": asyncio.create_task(
            button.run(
                app.press,
                long_press,
                beats.beater("button"),
                app.button_down,
                app.button_up,
                hold_gesture,
            )
        ),
        "screen": asyncio.create_task(screen.run(app, beats.beater("screen"))),
        "led": asyncio.create_task(
            led.run(lambda: pattern_for(display.state(app)), beats.beater("led"))
        ),
        "clock": asyncio.create_task(net.keep_time(beats.beater("clock"))),
        "update": asyncio.create_task(updater.run(app, restart)),
    }

    def check(now, healthy):
        resets.check(now, healthy)
        # Not while someone is turning: that count is not on flash yet.
        if not app.dial.editing and offline_too_long(
            app.offline_ms(now), cfg["offline_reboot_min"]
        ):
            restart("no broker for " + str(cfg["offline_reboot_min"]) + " min")

    await supervise(tasks, beats, resets, check)


async def main():
    print("Shelter Signal dial, firmware", FIRMWARE_VERSION)
    resets = Resets(RESETS_PATH).started(machine.reset_cause() == machine.WDT_RESET)
    raw, cfg, problem = read_config()
    # From here on the heap is collected whenever a quarter of what is free has been
    # allocated since, not only when it is full: garbage then never spreads over the whole
    # heap, and the TLS context mqtt_as allocates at every connection (3 KB in one piece)
    # finds room. Measured on the virtual dial (docs/benchmarks.md): it fits in 154 KiB
    # with this, in 164 without (a quarter: an eighth measured no better).
    gc.collect()
    gc.threshold(gc.mem_free() // 4 + gc.mem_alloc())
    pins = cfg["pins"]  # the defaults when the file won't do: enough to show what is wrong
    led = Led(pins["led"])
    i2c = I2C(0, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=I2C_HZ)
    screen = Screen(i2c, cfg["oled_address"], cfg["screen_flip"], cfg["device_id"] or "")
    button = Button(pins["encoder_switch"])
    if button.pressed():  # also the way to the REPL: mpremote's Ctrl-C stops the setup
        led.pattern = OFF
        await setup(
            screen,
            led,
            raw,
            resets,
            "MAINTENANCE",
            "Button held at start: dial stopped. EN restarts it.",
        )
        return
    led.pattern = FAST
    if raw is None and problem is None:  # first start: no settings yet
        await setup(screen, led, None, resets)
        return
    try:  # the parts that need libraries MicroPython may lack (module docstring)
        if screen.missing:  # the screen's driver, which did not import either
            raise ImportError(screen.missing)
        from board.encoder import Encoder
        from board.transport import MqttTransport
    except ImportError as e:
        why = str(e) + ". " + INSTALL
        resets.crashed(why)
        await setup(screen, led, raw, resets, "NOT INSTALLED", why)
        return
    transport = None
    if problem is None:
        try:
            transport = MqttTransport(cfg)  # reads the CA file when mqtt_tls is set
        except ValueError as e:
            problem = str(e)
    if transport is None:
        await setup(screen, led, raw, resets, "CONFIG ERROR", problem)
    elif resets.safe_mode:
        await safe_mode(cfg, raw, transport, screen, led, button, resets)
    else:
        await run_dial(cfg, transport, screen, led, button, resets, Encoder)


def run():
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # Ctrl-C (mpremote): to the REPL; the watchdog's reset is no crash
        Resets(RESETS_PATH).last_words(INTERRUPTED)
        raise
    except Exception as e:
        sys.print_exception(e)
        try:
            Resets(RESETS_PATH).crashed(type(e).__name__ + ": " + str(e))
        except OSError as failed:  # a failing flash must not keep the board from restarting
            print("resets: crash not recorded:", repr(failed))
        print("restarting in", RESTART_S, "s")
        time.sleep(RESTART_S)
        machine.reset()
    finally:
        asyncio.new_event_loop()  # a clean scheduler if main() is run again from the REPL
