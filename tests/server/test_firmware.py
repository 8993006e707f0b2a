"""Releases stored once and never changed; rollouts to a list or a stable percentage; stop."""

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import firmware
from server.firmware import FirmwareError
from server.models import Device, FirmwareFile, Site
from server.provision import FIRMWARE
from tests.server.conftest import RELEASE


def test_a_release_keeps_every_file_with_its_size_and_sha256(session, release, release_files):
    stored = {f.path: f for f in session.exec(select(FirmwareFile))}
    assert sorted(stored) == sorted(release_files)
    for path, data in release_files.items():
        assert (stored[path].data, stored[path].size) == (data, len(data))
        assert stored[path].sha256 == hashlib.sha256(data).hexdigest()
    assert firmware.manifest(session, release) == sorted(
        (p, len(d), hashlib.sha256(d).hexdigest()) for p, d in release_files.items()
    )


def test_the_same_release_again_is_fine_other_files_under_its_version_are_refused(
    session, release, release_files
):
    assert firmware.store_release(session, release, list(release_files.items())) is False
    changed = {**release_files, "board/big.py": b"print('other')\n"}
    with pytest.raises(FirmwareError, match="stored already, with other files"):
        firmware.store_release(session, release, list(changed.items()))
    fewer = {k: v for k, v in release_files.items() if k != "dialcore/empty.py"}
    with pytest.raises(FirmwareError, match="stored already, with other files"):
        firmware.store_release(session, release, list(fewer.items()))


@pytest.mark.parametrize(
    ("version", "files", "message"),
    [
        ("0.2.0", {"main.py": b""}, "main.py: not a file an update may write"),
        ("0.2.0", {"dialcore/Bad.py": b""}, "not a file an update may write"),
        ("0.2.0", {"dialcore/__init__.py": None}, "a release needs dialcore/__init__.py"),
        ("0 2", {}, "version '0 2'"),
        ("", {}, "version ''"),
    ],
)
def test_a_release_that_would_not_work_on_a_dial_is_refused(
    session, release_files, version, files, message
):
    files = [(path, data) for path, data in {**release_files, **files}.items() if data is not None]
    with pytest.raises(FirmwareError, match=message):
        firmware.store_release(session, version, files)


def test_this_checkouts_firmware_makes_a_release_of_its_packages_compiled(session):
    version = firmware.folder_version(FIRMWARE)
    files = firmware.folder_files(FIRMWARE, version)
    paths = [path for path, _data in files]
    assert "main.mpy" not in paths and "dialcore/__init__.mpy" in paths
    assert all(path.endswith(".mpy") and protocol.valid_update_path(path) for path in paths)
    assert all(data.startswith(b"M\x06") for _path, data in files)  # .mpy version 6
    assert firmware.store_release(session, version, files)


def test_a_folder_that_would_not_make_a_working_release_is_refused(tmp_path: Path):
    with pytest.raises(FirmwareError, match="board is not a folder"):
        firmware.folder_files(tmp_path, "0.2.0")
    with pytest.raises(FirmwareError, match="cannot read"):
        firmware.folder_version(tmp_path)
    shutil.copytree(FIRMWARE / "board", tmp_path / "board")
    shutil.copytree(FIRMWARE / "dialcore", tmp_path / "dialcore")
    version = firmware.folder_version(tmp_path)
    with pytest.raises(FirmwareError, match=f"says FIRMWARE_VERSION = '{version}', not '9.0'"):
        firmware.folder_files(tmp_path, "9.0")
    (tmp_path / "board" / "led.py").write_text("def broken(:\n")
    with pytest.raises(FirmwareError, match=r"board/led\.py does not compile for MicroPython"):
        firmware.folder_files(tmp_path, version)


@pytest.fixture
def fleet(session, site) -> list[str]:
    """dial-01 (the site fixture's) and 199 more dials."""
    ids = [f"desk-{n:03d}" for n in range(199)]
    session.add_all(Device(id=device_id, site_id=site.id) for device_id in ids)
    session.commit()
    return ["dial-01", *ids]


def targets(session) -> dict[str, str | None]:
    return {d.id: d.target_firmware for d in session.exec(select(Device))}


def test_a_rollout_to_a_list_targets_those_dials_only(session, fleet, release):
    chosen = firmware.roll_out(session, release, ["desk-007", "dial-01"])
    assert [d.id for d in chosen] == ["desk-007", "dial-01"]
    assert {k for k, v in targets(session).items() if v} == {"desk-007", "dial-01"}


def test_a_rollout_by_percentage_is_stable_and_raising_it_only_adds(session, fleet, release):
    ten = {d.id for d in firmware.roll_out(session, release, percent=10)}
    assert 5 <= len(ten) <= 40  # about 20 of 200
    assert ten == {d.id for d in firmware.roll_out(session, release, percent=10)}  # stable
    fifty = {d.id for d in firmware.roll_out(session, release, percent=50)}
    assert ten < fifty and 60 <= len(fifty) <= 140
    assert {d for d, v in targets(session).items() if v} == fifty
    assert len(firmware.roll_out(session, release, percent=100)) == len(fleet)


@pytest.mark.parametrize(
    ("version", "devices", "percent", "message"),
    [
        ("9.9.9", ["dial-01"], None, "no release 9.9.9"),
        (RELEASE, ["dial-01", "nobody"], None, "no device nobody"),
        (RELEASE, [], None, "no devices given"),
        (RELEASE, None, 0, "percent 0: from 1 to 100"),
        (RELEASE, None, 101, "percent 101"),
        (RELEASE, None, None, "give the devices, or a percentage"),
    ],
)
def test_a_rollout_that_cannot_be_made_changes_nothing(
    session, site, release, version, devices, percent, message
):
    with pytest.raises(FirmwareError, match=message):
        firmware.roll_out(session, version, devices, percent)
    assert targets(session) == {"dial-01": None}


def test_stop_withdraws_the_dials_not_yet_done_and_leaves_those_running_it(session, fleet, release):
    firmware.roll_out(session, release, ["dial-01", "desk-001", "desk-002", "desk-003"])
    done = session.get(Device, "desk-001")
    done.firmware = release  # its status says it runs the new version
    reported = session.get(Device, "desk-002")
    reported.update_version, reported.update_state = release, "done"
    session.get(Device, "desk-003").update_state = "downloading"
    stopped = firmware.stop(session, release)
    assert stopped.withdrawn == ["desk-003", "dial-01"]
    assert stopped.running == ["desk-001", "desk-002"]
    assert not any(targets(session).values())
    with pytest.raises(FirmwareError, match=r"no release 1\.0"):
        firmware.stop(session, "1.0")


def test_the_ota_order_carries_the_manifest_or_withdraws_it(session, site, release):
    device = session.get(Device, "dial-01")
    assert firmware.ota_message(session, device) == (
        protocol.topic("dial-01", "ota"),
        protocol.encode_ota(None, []),
    )
    firmware.roll_out(session, release, ["dial-01"])
    _topic, payload = firmware.ota_message(session, device)
    order = protocol.decode_ota(payload)
    assert order == {"version": release, "files": firmware.manifest(session, release)}


def test_orders_are_due_where_the_target_differs_from_what_was_published(session, site, release):
    session.add(Device(id="idle-01", site_id=site.id))
    session.commit()

    def due(every=False):
        return sorted(d.id for d in session.exec(firmware.ota_due(every)))

    assert due() == [] and due(every=True) == []
    firmware.roll_out(session, release, ["dial-01"])
    assert due() == ["dial-01"]
    session.get(Device, "dial-01").published_target_firmware = release
    assert due() == [] and due(every=True) == ["dial-01"]  # after a reconnect: again
    firmware.stop(session, release)
    assert due() == ["dial-01"]  # the withdrawal
    session.get(Device, "dial-01").published_target_firmware = None
    assert due() == [] and due(every=True) == []
    assert session.exec(select(Site)).first() is not None


def reassembled(session, version: str, path: str) -> bytes:
    """A file fetched chunk by chunk as a dial does, to the first short (or empty) one."""
    got, offset = b"", 0
    while True:
        part = firmware.chunk(session, version, path, offset)
        assert len(part) <= protocol.CHUNK
        got += part
        offset += protocol.CHUNK
        if len(part) < protocol.CHUNK:
            return got


def test_chunks_reassemble_every_file(session, release, release_files):
    for path, data in release_files.items():
        assert reassembled(session, release, path) == data, path


def test_chunks_are_read_alike_on_sqlite_and_postgresql(engine_each_database, release_files):
    with Session(engine_each_database) as session:
        firmware.store_release(session, RELEASE, list(release_files.items()))
        session.commit()
        for path, data in release_files.items():
            assert reassembled(session, RELEASE, path) == data, path


@pytest.mark.parametrize(
    ("version", "path", "offset", "code", "reason"),
    [
        ("0.9.0", "board/big.py", 0, "unknown_firmware", "unknown firmware version: 0.9.0"),
        (RELEASE, "board/nope.py", 0, "unknown_firmware", "firmware 0.2.0 has no file board/nope"),
        (RELEASE, "dialcore/empty.py", 2048, "bad_offset", "offset 2048 past the end of dialcore"),
        (RELEASE, "dialcore/exact.py", 6144, "bad_offset", "past the end of dialcore/exact.py"),
    ],
)
def test_a_fetch_of_nothing_stored_is_refused_with_a_code(
    session, release, version, path, offset, code, reason
):
    with pytest.raises(firmware.FetchRefused, match=reason) as refused:
        firmware.chunk(session, version, path, offset)
    assert refused.value.code == code
