"""firmware/main.py, unmodified, on MicroPython's Unix port: the virtual dial
(tests/support/virtual_dial.py) against the production broker, the ingestor and a database.

Each fault found by reading the firmware (issue 11) has a scenario here that failed before
its fix. STALL_MS bounds how long the event loop may stop (the screen and the button stop
with it); measured on a 2-core machine running the whole suite: see docs/benchmarks.md.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session

from server import alerts, holds
from server.models import Hold, HoldState, Program, Sector, Site, utcnow
from server.settings import Settings
from tests.firmware.conftest import BROKER_NAME, der
from tests.support.virtual_dial import TICKS_PERIOD, WDT_RESET, FaultyLink, TimeServer
from tests.support.waiting import scaled, wait_until

STALL_MS = 1500
DAY_MS = 24 * 3600 * 1000
HOLD_S = 3.5  # the knob held past board/button.py HOLD_MS (3 s), with a sample to spare
CLICK_S = 0.5  # a click, then the knob let go: a hand takes longer than the encoder's poll


def ready(dial) -> None:
    """Connected, with the server's config applied (capacity 20: the knob can move)."""
    dial.wait_log("mqtt: connected", 60)
    dial.wait_screen("of 20", 30)


def _flash_state(flash) -> dict:
    return json.loads((flash / "state.json").read_text())


def test_a_provisioned_dial_connects_over_tls_and_a_turn_is_saved(world):
    flash = world.provision("desk-main")
    with world.dial(flash).power_on() as dial:
        ready(dial)
        assert dial.screen.shows("ready")
        dial.turn(3)
        dial.wait_screen("SAVED", 30)
        current = wait_until(lambda: world.current("desk-main"))
        assert current.occupied == 3
        assert dial.screen.shows("3")
        assert max(dial.stalls) < STALL_MS


def test_a_dial_provisioned_with_the_cli_connects_over_tls(world, tmp_path):
    """`shelter-signal device add` and `device flash --dry-run`, as hardware/README.md says."""
    with Session(world.engine) as session:
        site = Site(name="Cli House", lat=43.7, lon=-79.4)
        session.add(site)
        session.flush()
        program = Program(site_id=site.id, name="Beds", sector=Sector.men, capacity=20)
        session.add(program)
        session.commit()
        site_id, program_id = site.id, program.id
    ca = tmp_path / "ca.der"
    ca.write_bytes(der(world.broker))
    env = {**os.environ, "SIGNAL_DATABASE_URL": str(world.engine.url)}
    cli = [str(Path(sys.executable).with_name("shelter-signal")), "device"]
    added = subprocess.run(
        [*cli, "add", "desk-cli", "--site", str(site_id), "--channel", f"{program_id}:Beds",
         "--wifi-ssid", "ShelterStaff", "--wifi-password", "staff-wifi-pass",
         "--mqtt-host", BROKER_NAME, "--mqtt-port", str(world.broker.tls_port),
         "--mqtt-ca", str(ca), "--mosquitto-passwd", str(world.broker.passwd_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=scaled(60),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    world.broker.reload()
    vendor = ["--vendor", str(world.vendor)] if world.vendor else []  # else from GitHub
    flashed = subprocess.run(
        [*cli, "flash", "desk-cli", "--dry-run", *vendor],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=scaled(60),
    )  # fmt: skip
    assert flashed.returncode == 0, flashed.stderr
    with world.dial(tmp_path / "devices" / "desk-cli" / "flash").power_on() as dial:
        ready(dial)
        dial.turn(2)
        wait_until(lambda: world.current("desk-cli") and world.current("desk-cli").occupied == 2)


def test_a_non_ascii_broker_password_connects(world):
    flash = world.provision("desk-utf8", password="pässwört-für-die-Tür-€")
    with world.dial(flash).power_on() as dial:
        ready(dial)
        dial.turn(1)
        dial.wait_screen("SAVED", 30)


def test_power_cuts_at_random_moments_lose_no_commit_and_never_number_backwards(world):
    flash = world.provision("desk-power")
    rng = random.Random(11)
    dial = world.dial(flash)
    try:
        for _ in range(8):
            dial.power_on()
            dial.wait_log("boot", 30)
            dial.turn(rng.choice([1, 2, -1]))
            # around the 300 ms settle time: before, during and after the commit's write
            time.sleep(rng.uniform(0.1, 1.2))
            dial.power_cut()
        dial.power_on()
        ready(dial)
        dial.press()  # commit what the flash holds now, and see it saved
        dial.wait_screen("SAVED", 30)
        state = _flash_state(flash)
        current = wait_until(lambda: world.current("desk-power"))
        assert current.occupied == state["counts"][0]
        readings = world.readings("desk-power")
        numbers = [(r.boot, r.seq) for r in readings]
        assert len(set(numbers)) == len(numbers)  # none stored twice
        assert sorted(numbers, key=lambda n: n[1]) == sorted(numbers)  # boots never go back
        assert state["boot"] == 9
        assert not world.dead_letters("desk-power")
        assert not (flash / "resets.json").exists()  # no crash counted: power cuts are none
    finally:
        dial.close()


def test_what_a_power_cut_in_the_middle_of_a_write_leaves_is_started_from(world):
    """The state file is written to a temporary file, then renamed over the old one (FAT:
    the old one removed first). A cut while writing leaves a half temporary file beside the
    whole old state; a cut between FAT's remove and rename leaves only the whole temporary
    file. Each is started from: the count kept, the boot counter up, nothing twice."""
    flash = world.provision("desk-midwrite")
    dial = world.dial(flash)
    try:
        dial.power_on()
        ready(dial)
        dial.turn(4)
        wait_until(lambda: getattr(world.current("desk-midwrite"), "occupied", 0) == 4, 30)
        dial.power_cut()
        saved = (flash / "state.json").read_text()
        (flash / "state.json.tmp").write_text(saved[: len(saved) // 2])  # cut while writing
        dial.power_on()
        ready(dial)
        assert dial.screen.shows("4")
        dial.turn(1)  # (SAVED is on the screen already: the server having it is the sign)
        wait_until(lambda: world.current("desk-midwrite").occupied == 5, 30)
        dial.power_cut()
        state = flash / "state.json"
        state.rename(flash / "state.json.tmp")  # cut between FAT's remove and rename
        dial.power_on()
        ready(dial)
        assert dial.screen.shows("5")
        dial.turn(1)
        wait_until(lambda: world.current("desk-midwrite").occupied == 6, 30)
        numbers = [(r.boot, r.seq) for r in world.readings("desk-midwrite")]
        assert len(set(numbers)) == len(numbers) and [b for b, _ in numbers] == [1, 2, 3]
        assert not world.dead_letters("desk-midwrite")
    finally:
        dial.close()


def test_a_wiped_board_is_numbered_above_what_the_server_has_and_reaches_the_map(world):
    flash = world.provision("desk-wiped")
    dial = world.dial(flash)
    try:
        (flash / "state.json.boot").write_text('{"boot": 3}')  # three starts before this one
        dial.power_on()
        ready(dial)
        dial.turn(5)
        dial.wait_screen("SAVED", 30)
        assert wait_until(lambda: world.current("desk-wiped")).boot == 4
        dial.power_cut()
        for name in ("state.json", "state.json.boot", "resets.json"):  # esptool erase_flash
            (flash / name).unlink(missing_ok=True)
        dial.power_on()
        ready(dial)
        dial.turn(2)
        dial.wait_log("renumbering", 30)
        dial.wait_screen("SAVED", 30)
        wait_until(lambda: world.current("desk-wiped").occupied == 2)
        assert world.current("desk-wiped").boot == 5  # above the server's 4
    finally:
        dial.close()


def test_seven_days_of_uptime_keep_telemetry_valid(world):
    flash = world.provision("desk-week", telemetry_s=10)
    dial = world.dial(flash)
    # Start 3 days before the board's tick clock wraps (the stand-in's ticks_ms is the
    # process's CLOCK_MONOTONIC, as Python's monotonic(), plus this offset), so the week
    # crosses the wrap and, after 6.2 days, spans the tick clock cannot measure at once.
    now = int(time.monotonic() * 1000)
    dial.tick_offset = TICKS_PERIOD - now % TICKS_PERIOD - 3 * DAY_MS
    with dial.power_on():
        ready(dial)
        for day in range(1, 8):  # a day at a time, as the dial's settle loop sees it pass
            dial.advance_ticks(DAY_MS)
            dial.turn(1)
            # This day's count, not the SAVED still on the screen from the day before: after
            # 6.2 days the screen stopped redrawing (a tick kept from boot, ticks_diff'd).
            dial.wait_screen(f"of 20  {20 - day} free", 60)
            dial.wait_screen("SAVED", 60)
        wait_until(lambda: world.device("desk-week").free_heap is not None, 30)
        letters = world.dead_letters("desk-week")
        assert not letters, [(d.topic, d.reason) for d in letters]


def test_without_ntp_commits_flow_and_a_set_clock_survives_a_reset(world):
    ntp = TimeServer()
    ntp.answering = False
    flash = world.provision("desk-clock", ntp_host="ntp.signal.test", ntp_port=ntp.port)
    dial = world.dial(flash)
    dial.hosts["ntp.signal.test"] = "127.0.0.1"
    dial.write_hosts()
    try:
        dial.power_on()
        ready(dial)
        dial.turn(1)
        dial.wait_screen("SAVED", 30)
        assert world.readings("desk-clock")[-1].device_ts is None  # no time yet: ts null

        assert max(dial.stalls) < STALL_MS  # waiting for NTP does not stop the dial
        ntp.answering = True
        dial.wait_log("ntp: clock set", 60)
        ntp.answering = False
        dial.power_cut()  # then the watchdog's reset: the RTC keeps counting
        dial.power_on(WDT_RESET)
        ready(dial)
        dial.turn(1)

        wait_until(lambda: len(world.readings("desk-clock")) == 2, 30)
        assert not world.dead_letters("desk-clock")
        assert world.readings("desk-clock")[-1].device_ts is not None
    finally:
        dial.close()
        ntp.close()


def test_wifi_loss_broker_restart_and_a_stalled_tls_handshake_are_survived(world):
    link = FaultyLink(world.broker.tls_port)
    flash = world.provision("desk-faults", mqtt_port=link.port)
    try:
        with world.dial(flash).power_on() as dial:
            ready(dial)
            dial.turn(2)
            dial.wait_screen("SAVED", 30)
            # Wi-Fi gone: offline, counting goes on, saved once it is back
            dial.set_wifi(False)
            dial.wait_screen("OFFLINE", 60)
            dial.turn(1)
            dial.set_wifi(True)
            wait_until(lambda: world.current("desk-faults").occupied == 3, 90)
            # The broker answers TCP and then nothing: TLS handshakes stall
            link.set("stall")
            dial.wait_screen("OFFLINE", 90)
            dial.turn(1)
            dial.wait_screen("4", 10)  # the screen and the knob are alive meanwhile
            link.set("pass")
            wait_until(lambda: world.current("desk-faults").occupied == 4, 120)
            # The broker restarts
            world.broker.restart()
            dial.turn(1)
            wait_until(lambda: world.current("desk-faults").occupied == 5, 120)
            assert max(dial.stalls) < STALL_MS
            assert len(dial.starts) == 1  # never restarted, never in safe mode
            assert not dial.logged("safe mode", ever=True)
    finally:
        link.close()


def test_a_missing_library_is_named_on_the_screen(world):
    flash = world.provision("desk-nolib")
    shutil.rmtree(flash / "lib" / "mqtt_as")
    with world.dial(flash).power_on() as dial:
        dial.wait_screen("NOT INSTALLED", 30)
        assert "mqtt_as" in json.loads((flash / "resets.json").read_text())["why"]


def test_a_missing_screen_driver_is_named_where_it_can_be(world):
    """Without ssd1306 there is no screen to name it on: the dial records and logs it and
    opens its setup Wi-Fi, whose page names it, rather than count where nobody sees."""
    flash = world.provision("desk-noscreen")
    (flash / "lib" / "ssd1306.mpy").unlink()
    with world.dial(flash).power_on() as dial:
        dial.wait_log("NOT INSTALLED: no module named 'ssd1306'", 30)
        dial.wait_log("form at http://", 30)  # the setup Wi-Fi's page says it too
        assert "ssd1306" in json.loads((flash / "resets.json").read_text())["why"]


def test_a_micropython_without_the_pcnt_encoder_is_named_on_the_screen(world):
    """MicroPython before 1.26 has no machine.Encoder; pin interrupts there lose clicks, so the
    dial says what it needs instead of counting badly."""
    flash = world.provision("desk-old-mp")
    with world.dial(flash, env={"DIAL_MICROPYTHON_BEFORE_1_26": "1"}).power_on() as dial:
        dial.wait_screen("NOT INSTALLED", 30)
        assert "1.26" in json.loads((flash / "resets.json").read_text())["why"]


def test_a_held_person_is_counted_in_with_the_knob_and_a_closed_program_refuses_counts(world):
    """The hold gesture through board/button.py and the real screen: a hold placed on the
    server shows, the knob held past HOLD_MS shows its code, a click counts the person in
    and ends the hold in one commit. Then the program closes: CLOSED, and a turn counts
    nothing (docs/protocol.md, Holds and Closed programs)."""
    flash = world.provision("desk-hold")
    with world.dial(flash).power_on() as dial:
        ready(dial)
        dial.turn(3)
        wait_until(lambda: getattr(world.current("desk-hold"), "occupied", None) == 3, 30)
        program_id = world.current("desk-hold").program_id
        with Session(world.engine) as session:
            hold = holds.place(session, Settings(_env_file=None), program_id, None)
            code, hold_id = hold.code, hold.id
        dial.wait_screen("1 HELD", 30)
        dial.button(True)
        dial.wait_screen("CONNECTION", 10)  # the long press acts at 1 s, as always
        time.sleep(HOLD_S)
        dial.wait_screen(code, 10)  # the hold's page, in place of the connection details
        dial.turn(1)
        time.sleep(CLICK_S)
        dial.button(False)
        dial.wait_screen("HOLD: ARRIVED", 10)
        with Session(world.engine) as session:
            wait_until(lambda: session.get(Hold, hold_id, populate_existing=True).state
                       == HoldState.arrived, 30)  # fmt: skip
        assert world.current("desk-hold").occupied == 4  # counted in by the same commit

        with Session(world.engine) as session:  # the program becomes a warming centre, closed
            program = session.get(Program, program_id)
            program.opens_with_alert = "cold"
            alerts.programs_changed(session, {program_id}, utcnow())  # as the Watcher does
            session.commit()
        dial.wait_screen("CLOSED", 30)
        dial.turn(2)
        dial.wait_screen("NOT COUNTED", 10)
        dial.press()  # saves the counts as they are: nothing stored on the closed channel
        dial.wait_screen("SAVED", 30)
        assert world.current("desk-hold").occupied == 4
        assert not world.dead_letters("desk-hold")
