"""Over-the-air updates, the server's side: releases, rollouts, and what the ingestor sends.

A **release** is a firmware version with its files (`board/`, `dialcore/`, compiled to .mpy
as `device flash` installs them: server/mpy.py; never `main.py`, the loader that stays on the
board), their bytes and SHA-256, stored once and never changed. A **rollout** points dials at
a release (Device.target_firmware); the ingestor publishes each targeted dial's retained
`ota` manifest, answers its `fetch` requests with `chunk`s, and stores its `update` reports
(docs/protocol.md, "Updates over the air"). Stopping a rollout withdraws the order from every
dial it targeted: `{"version": null}`, retained.

The CLI (`shelter-signal firmware ...`) and the API (/api/v1/firmware) both call this module.
"""

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from firmware.dialcore import protocol
from server import mpy
from server.models import Device, FirmwareFile, FirmwareRelease

PACKAGES = ("board", "dialcore")  # what a release holds; main.py never (protocol._PACKAGES)
# A release's version: safe in a topic's payload, a URL path and a shell; the dial's own
# `fw` may add "+safe", which is why "+" is not the first character.
VERSION = r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$"
MAX_SIZE = 1 << 20  # bytes per file: what protocol.decode_ota accepts
# The module whose FIRMWARE_VERSION a dial reports as the version it runs (`fw`), and compares
# with an order's: a release must carry it (compiled or source), saying the release's version.
INIT = "dialcore/__init__.py"
INIT_FILES = (INIT, "dialcore/__init__.mpy")


class FirmwareError(ValueError):
    """A release or rollout that cannot be made; the message says why."""


@dataclass
class Stopped:
    version: str
    withdrawn: list[str]  # dials that had not finished: they get {"version": null}
    running: list[str]  # dials already running the version: they stay on it


# -- releases ------------------------------------------------------------------------------


def valid_version(version: str) -> bool:
    return re.fullmatch(VERSION, version) is not None


def folder_version(folder: Path) -> str:
    """FIRMWARE_VERSION as firmware/dialcore/__init__.py in `folder` sets it (read, not
    imported: the folder may be another checkout's)."""
    source = folder / INIT
    try:
        return declared_version(source.read_bytes(), str(source))
    except OSError as e:
        raise FirmwareError(f"cannot read {source}: {e}") from None


def declared_version(source: bytes, where: str = INIT) -> str:
    """The FIRMWARE_VERSION string a dialcore/__init__.py assigns."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as e:
        raise FirmwareError(f"cannot read {where}: {e}") from None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "FIRMWARE_VERSION" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise FirmwareError(f"{where} sets no FIRMWARE_VERSION string")


def folder_sources(folder: Path) -> list[tuple[str, bytes]]:
    """(path, source) of each module of the packages in `folder` (a checkout's firmware/),
    in path order; no caches. Raises FirmwareError if the folder is not the firmware."""
    sources = []
    for package in PACKAGES:
        if not (folder / package).is_dir():
            raise FirmwareError(f"{folder / package} is not a folder: is {folder} the firmware?")
        for module in sorted((folder / package).glob("*.py")):
            sources.append((f"{package}/{module.name}", module.read_bytes()))
    return sources


def folder_files(folder: Path, version: str) -> list[tuple[str, bytes]]:
    """(path, bytes) of every file a release `version` of `folder` holds, compiled, in path
    order. Raises FirmwareError if the folder is not the firmware, its FIRMWARE_VERSION is
    another, or a file does not compile."""
    sources = folder_sources(folder)
    declared = folder_version(folder)
    if declared != version:
        raise FirmwareError(
            f"{INIT} says FIRMWARE_VERSION = {declared!r}, not {version!r}: a dial reports the "
            "version its files say, so it would take this update again and again"
        )
    try:
        return mpy.compiled(sources)
    except mpy.CompileError as e:
        raise FirmwareError(str(e)) from None


def store_release(session: Session, version: str, files: list[tuple[str, bytes]]) -> bool:
    """Store a release; True if new, False if the same files are stored under it already.
    Raises FirmwareError for a bad version or file, or a version stored with other files."""
    if not valid_version(version):
        raise FirmwareError(
            f"version {version!r}: 1-32 of A-Z, a-z, 0-9, '.', '_', '+', '-', "
            "starting with a letter or digit"
        )
    if not 1 <= len(files) <= protocol.MAX_FILES:
        raise FirmwareError(f"a release has 1 to {protocol.MAX_FILES} files, not {len(files)}")
    for path, data in files:
        if not protocol.valid_update_path(path):
            raise FirmwareError(f"{path}: not a file an update may write (board/ or dialcore/)")
        if len(data) > MAX_SIZE:
            raise FirmwareError(f"{path}: {len(data)} bytes, more than {MAX_SIZE}")
    if not set(INIT_FILES) & set(dict(files)):
        raise FirmwareError(f"a release needs {INIT} (or .mpy): the dial reads its version there")
    wanted = sorted((path, len(data), _sha256(data)) for path, data in files)
    if session.get(FirmwareRelease, version) is not None:
        if manifest(session, version) != wanted:
            raise FirmwareError(f"version {version} is stored already, with other files")
        return False
    session.add(FirmwareRelease(version=version))
    session.flush()
    for path, data in files:
        session.add(
            FirmwareFile(
                version=version, path=path, size=len(data), sha256=_sha256(data), data=data
            )
        )
    session.flush()
    return True


def manifest(session: Session, version: str) -> list[tuple[str, int, str]]:
    """(path, size, sha256) of a release's files, in path order (the bytes stay unread)."""
    rows = session.exec(
        select(FirmwareFile.path, FirmwareFile.size, FirmwareFile.sha256)
        .where(FirmwareFile.version == version)
        .order_by(FirmwareFile.path)
    )
    return [tuple(row) for row in rows]


def releases(session: Session) -> list[tuple[FirmwareRelease, int, int]]:
    """Every release, newest first, with its number of files and bytes."""
    rows = session.exec(
        select(FirmwareRelease, func.count(), func.coalesce(func.sum(FirmwareFile.size), 0))
        .join(FirmwareFile, FirmwareFile.version == FirmwareRelease.version)
        .group_by(FirmwareRelease.version, FirmwareRelease.created_at)
        .order_by(col(FirmwareRelease.created_at).desc(), FirmwareRelease.version)
    )
    return [(release, files, size) for release, files, size in rows]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- rollouts ------------------------------------------------------------------------------


def in_percent(device_id: str, percent: int) -> bool:
    """Whether a rollout to `percent` % of the fleet takes this dial: a stable choice by the
    SHA-256 of its id, so raising the percentage only adds dials (and every release starts
    on the same ones)."""
    bucket = int.from_bytes(hashlib.sha256(device_id.encode()).digest()[:8]) % 10_000
    return bucket < percent * 100


def roll_out(
    session: Session,
    version: str,
    device_ids: list[str] | None = None,
    percent: int | None = None,
) -> list[Device]:
    """Point the listed dials, or `percent` % of the fleet, at release `version`; return the
    dials it chose (a dial chosen already stays chosen). The ingestor publishes the orders.
    Raises FirmwareError for an unknown version or device, or a percentage out of range."""
    if (device_ids is None) == (percent is None):
        raise FirmwareError("give the devices, or a percentage of the fleet")
    if session.get(FirmwareRelease, version) is None:
        raise FirmwareError(
            f"no release {version}: store it first (shelter-signal firmware release)"
        )
    if percent is not None:
        if not 1 <= percent <= 100:
            raise FirmwareError(f"percent {percent}: from 1 to 100")
        everyone = session.exec(select(Device).order_by(Device.id)).all()
        chosen = [device for device in everyone if in_percent(device.id, percent)]
    else:
        if not device_ids:
            raise FirmwareError("no devices given")
        found = {
            d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(device_ids)))
        }
        missing = sorted(set(device_ids) - set(found))
        if missing:
            raise FirmwareError(f"no device {', '.join(missing)}")
        chosen = [found[device_id] for device_id in sorted(found)]
    for device in chosen:
        device.target_firmware = version
        session.add(device)
    session.flush()
    return chosen


def stop(session: Session, version: str) -> Stopped:
    """Withdraw release `version` from every dial it was rolled out to. Raises FirmwareError
    if there is no such release."""
    if session.get(FirmwareRelease, version) is None:
        raise FirmwareError(f"no release {version}")
    targeted = session.exec(
        select(Device).where(Device.target_firmware == version).order_by(Device.id)
    ).all()
    stopped = Stopped(version, [], [])
    for device in targeted:
        device.target_firmware = None
        session.add(device)
        (stopped.running if runs(device, version) else stopped.withdrawn).append(device.id)
    session.flush()
    return stopped


def runs(device: Device, version: str) -> bool:
    """Whether the dial runs `version`: it says so in its status (or telemetry), or it has
    reported the update done."""
    running = (device.firmware or "").removesuffix("+safe")
    return running == version or (device.update_version, device.update_state) == (version, "done")


# -- what the ingestor sends ---------------------------------------------------------------


def ota_due(every: bool = False) -> SelectOfScalar[Device]:
    """The devices whose retained `ota` message must be published: those whose target
    differs from what was published last; with `every` (after a reconnect) also every dial
    with a target, in case the broker lost its retained messages."""
    differs = col(Device.target_firmware).is_distinct_from(col(Device.published_target_firmware))
    condition = or_(differs, col(Device.target_firmware).is_not(None)) if every else differs
    return select(Device).where(condition)


def ota_message(
    session: Session, device: Device, manifests: dict[str, list] | None = None
) -> tuple[str, bytes]:
    """The retained `ota` order for `device`: its target's manifest, or the withdrawal.
    `manifests` caches them by version across the devices of one publishing round."""
    version = device.target_firmware
    files = []
    if version is not None:
        if manifests is None:
            manifests = {}
        if version not in manifests:
            manifests[version] = manifest(session, version)
        files = manifests[version]
    return protocol.topic(device.id, "ota"), protocol.encode_ota(version, files)


class FetchRefused(ValueError):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code


def chunk(session: Session, version: str, path: str, offset: int) -> bytes:
    """Up to protocol.CHUNK bytes of a release file from `offset` (empty at its very end).
    Raises FetchRefused: code unknown_firmware (no such release or file) or bad_offset (past
    the end). Only the chunk is read from the database, not the whole file."""
    row = session.exec(
        select(FirmwareFile.size, func.substr(FirmwareFile.data, offset + 1, protocol.CHUNK)).where(
            FirmwareFile.version == version, FirmwareFile.path == path
        )
    ).first()
    if row is None:
        if session.get(FirmwareRelease, version) is None:
            raise FetchRefused("unknown_firmware", f"unknown firmware version: {version}")
        raise FetchRefused("unknown_firmware", f"firmware {version} has no file {path}")
    size, data = row
    if offset > size:
        raise FetchRefused(
            "bad_offset", f"fetch offset {offset} past the end of {path} ({size} bytes)"
        )
    return bytes(data or b"")
