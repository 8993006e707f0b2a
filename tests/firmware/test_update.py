"""Updates over the air on the virtual dial: the real firmware, broker, ingestor and release.

Releases are made from a copy of this checkout's firmware with another FIRMWARE_VERSION
(server/firmware.py stores them as `shelter-signal firmware release --from` does), rolled
out to the dial, and the dial's own reports (`update`, `fw`) are read from the database.
"""

import json
import shutil
import time
from pathlib import Path

from sqlmodel import Session, select

from server import firmware as releases
from server.models import Device, FirmwareFile
from tests.firmware.test_main import ready
from tests.support.waiting import wait_until

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"


def release(
    world, tmp_path, version: str, break_import: bool = False, break_start: bool = False
) -> None:
    """Store a release of this firmware as `version`; with break_import, one that raises
    when the dial imports it; with break_start, one that imports and then crashes at every
    start."""
    folder = tmp_path / f"firmware-{version}"
    shutil.copytree(FIRMWARE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    init = folder / "dialcore" / "__init__.py"
    init.write_text(
        init.read_text().replace('FIRMWARE_VERSION = "0.1.0"', f'FIRMWARE_VERSION = "{version}"')
    )
    if break_import:
        display = folder / "dialcore" / "display.py"
        display.write_text(display.read_text() + '\nraise RuntimeError("broken release")\n')
    if break_start:
        start = folder / "board" / "start.py"
        start.write_text(
            start.read_text().replace(
                "async def main():\n", 'async def main():\n    raise RuntimeError("crashes")\n'
            )
        )
    with Session(world.engine) as session:
        releases.store_release(session, version, releases.folder_files(folder, version))
        session.commit()


def roll_out(world, version: str, device_id: str) -> None:
    with Session(world.engine) as session:
        releases.roll_out(session, version, [device_id])
        session.commit()


def shown(world, device_id: str) -> int | None:
    """The count the map shows for the dial's program, None before its first reading."""
    current = world.current(device_id)
    return current.occupied if current else None


def device(world, device_id: str) -> Device:
    with Session(world.engine) as session:
        return session.get(Device, device_id)


def wait_state(world, device_id: str, version: str, state: str, timeout: float = 120) -> Device:
    def reached():
        d = device(world, device_id)
        return d if (d.update_version, d.update_state) == (version, state) else None

    return wait_until(reached, timeout, interval=0.2, message=f"{device_id}: {version} {state}")


def test_a_dial_offline_during_the_rollout_updates_on_its_return_through_a_power_cut(
    world, tmp_path
):
    flash = world.provision("desk-ota")
    dial = world.dial(flash)
    try:
        dial.power_on()
        ready(dial)
        dial.turn(4)
        wait_until(lambda: shown(world, "desk-ota") == 4)
        dial.power_cut()  # offline while the rollout starts
        release(world, tmp_path, "0.2.0")
        roll_out(world, "0.2.0", "desk-ota")
        dial.power_on()
        ready(dial)
        wait_state(world, "desk-ota", "0.2.0", "downloading")
        time.sleep(0.5)
        dial.power_cut()  # in the middle of the download
        dial.power_on()
        wait_state(world, "desk-ota", "0.2.0", "done", 180)
        assert device(world, "desk-ota").firmware == "0.2.0"
        slot = json.loads((flash / "slot.json").read_text())
        assert slot == {"active": "app-0.2.0", "version": "0.2.0"}  # confirmed: no trial
        ready(dial)
        dial.turn(1)  # the new version counts
        wait_until(lambda: shown(world, "desk-ota") == 5)
    finally:
        dial.close()


def test_a_corrupted_download_is_refused_and_a_release_that_crashes_is_rolled_back(world, tmp_path):
    flash = world.provision("desk-ota-bad")
    dial = world.dial(flash)
    try:
        dial.power_on()
        ready(dial)
        release(world, tmp_path, "0.2.1")
        with Session(world.engine) as session:  # the stored bytes no longer match their hash
            stored = session.exec(
                select(FirmwareFile).where(
                    FirmwareFile.version == "0.2.1", FirmwareFile.path == "dialcore/app.mpy"
                )
            ).one()
            stored.data = stored.data[:-1] + bytes([stored.data[-1] ^ 1])  # one bit flipped
            session.add(stored)
            session.commit()
        roll_out(world, "0.2.1", "desk-ota-bad")
        failed = wait_state(world, "desk-ota-bad", "0.2.1", "failed")
        assert "dialcore/app.mpy" in failed.update_reason and "SHA-256" in failed.update_reason
        assert not (flash / "slot.json").exists()  # never switched

        release(world, tmp_path, "0.3.0", break_import=True)
        roll_out(world, "0.3.0", "desk-ota-bad")
        back = wait_state(world, "desk-ota-bad", "0.3.0", "rolled_back", 180)
        assert "broken release" in back.update_reason
        wait_until(lambda: device(world, "desk-ota-bad").firmware == "0.1.0", 60)
        ready(dial)
        dial.turn(2)  # the old version counts on
        wait_until(lambda: shown(world, "desk-ota-bad") == 2)
    finally:
        dial.close()


def test_a_release_that_crashes_at_every_start_goes_back_and_the_old_one_counts(world, tmp_path):
    """It imports, then crashes at each start: after TRIAL_STARTS (main.py) the loader goes
    back, and the old version starts as itself, not in safe mode for the new one's crashes."""
    flash = world.provision("desk-ota-loop")
    dial = world.dial(flash)
    try:
        dial.power_on()
        ready(dial)
        release(world, tmp_path, "0.4.0", break_start=True)
        roll_out(world, "0.4.0", "desk-ota-loop")
        back = wait_state(world, "desk-ota-loop", "0.4.0", "rolled_back", 240)
        assert back.update_reason == "not confirmed in 3 starts (last crash: RuntimeError: crashes)"
        ready(dial)
        dial.turn(2)  # the old version counts on
        wait_until(lambda: shown(world, "desk-ota-loop") == 2)
        assert device(world, "desk-ota-loop").firmware == "0.1.0"
    finally:
        dial.close()
