"""What the server tells a device: its `config` message, built from the pairing tables."""

import json
from zoneinfo import ZoneInfo

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from firmware.dialcore import protocol
from server import alerts, holds
from server.models import (
    CurrentState,
    Device,
    DeviceChannel,
    DeviceConfig,
    Program,
    Reading,
    Site,
    utcnow,
)
from server.pairing import pair
from server.settings import get_settings

MAX_HOLDS_SHOWN = 8  # config.schema.json: a desk rarely has more; the API lists them all


def config_message(
    session: Session, device: Device, zone: ZoneInfo | None = None
) -> tuple[str, bytes]:
    """The retained config for `device`: shelter name, one (label, capacity) per channel,
    their holds, and which are closed (in the city's `zone`; default: SIGNAL_TIMEZONE)."""
    site = session.get(Site, device.site_id) if device.site_id else None
    rows = session.exec(
        select(DeviceChannel, Program)
        .join(Program, DeviceChannel.program_id == Program.id)
        .where(DeviceChannel.device_id == device.id)
        .order_by(DeviceChannel.channel)
    ).all()
    # A config has at least one channel (config.schema.json); a dial not paired yet gets one
    # that holds nothing, and any count it sends is refused as unpaired.
    channels = [(channel.label, program.capacity) for channel, program in rows] or [("Beds", 0)]
    held = holds.for_desk(session, [program.id for _channel, program in rows])
    desk_holds = [
        [
            {"id": h.id, "code": h.code, "until": int(h.expires_at.timestamp())}
            for h in held[program.id][:MAX_HOLDS_SHOWN]
        ]
        for _channel, program in rows
    ]
    payload = protocol.encode_config(
        device.config_version,
        site.name[:64] if site else device.id,
        device.mode,
        channels,
        desk_holds,
        _closed_channels(session, device, rows, zone or get_settings().zone),
    )
    return protocol.topic(device.id, "config"), payload


def _closed_channels(session: Session, device: Device, rows, zone: ZoneInfo) -> list[dict]:
    """Per channel, {"closed": true, "count": the count this dial last saved there} if its
    program is closed ("count" left out when it saved none): the dial keeps that count while
    closed, so its commits carry what the server expects there (docs/protocol.md)."""
    shut = alerts.closed(session, [program.id for _channel, program in rows], utcnow(), zone)
    pairs = {channel.channel: program.id for channel, program in rows}
    kept = newest_readings(session, device.id, {c: p for c, p in pairs.items() if p in shut})
    extra: list[dict] = []
    for channel, program in rows:
        fields: dict = {}
        if program.id in shut:
            fields["closed"] = True
            if channel.channel in kept:
                occupied, capacity = kept[channel.channel]
                fields["count"] = occupied if device.mode == "occupied" else capacity - occupied
        extra.append(fields)
    return extra


def newest_readings(
    session: Session, device_id: str, channels: dict[int, int]
) -> dict[int, tuple[int, int]]:
    """channel -> (occupied, capacity) of the newest reading (by boot, seq) `device_id`
    stored on that channel for its program (channels: channel -> program id); channels
    without one are left out. One query per channel: only closed ones are asked for."""
    found = {}
    for channel, program_id in channels.items():
        row = session.exec(
            select(Reading.occupied, Reading.capacity)
            .where(
                Reading.device_id == device_id,
                Reading.channel == channel,
                Reading.program_id == program_id,
            )
            .order_by(col(Reading.boot).desc(), col(Reading.seq).desc())
            .limit(1)
        ).first()
        if row is not None:
            found[channel] = (row[0], row[1])
    return found


def remember_configs(session: Session, configs: list[tuple[str, bytes]]) -> None:
    """Keep the capacities of each (device id, config payload) about to be sent, once per
    version: a state is checked against the config it reports (server/ingest/handler.py)."""
    sent = [(device_id, json.loads(payload)) for device_id, payload in configs]
    keys = {(device_id, config["version"]) for device_id, config in sent}
    if not keys:
        return
    key = tuple_(DeviceConfig.device_id, DeviceConfig.version)
    known = set(
        session.exec(select(DeviceConfig.device_id, DeviceConfig.version).where(key.in_(keys)))
    )
    for device_id, config in sent:
        if (device_id, config["version"]) not in known:
            known.add((device_id, config["version"]))
            capacities = [channel["capacity"] for channel in config["channels"]]
            session.add(
                DeviceConfig(device_id=device_id, version=config["version"], capacities=capacities)
            )


def register(
    session: Session, device_id: str, site_id: int, channels: list[tuple[int, str]], mode: str
) -> Device:
    """Create a device paired channel by channel with programs of one site.

    channels: (program_id, label) in channel order. Raises ValueError naming what is wrong.
    """
    if not protocol.valid_device_id(device_id):
        raise ValueError(f"device id {device_id!r}: use 3-32 of a-z, 0-9 and '-'")
    if session.get(Device, device_id) is not None:
        raise ValueError(f"device {device_id} exists already")
    if session.get(Site, site_id) is None:
        raise ValueError(f"no site with id {site_id}")
    if mode not in protocol.MODES:
        raise ValueError(f"mode {mode!r}: use one of {', '.join(protocol.MODES)}")
    device = Device(id=device_id, site_id=site_id, mode=mode)
    session.add(device)
    session.flush()
    pair(session, device, channels)
    return device


def reset_sequence(session: Session, device: Device) -> int:
    """Forget the device's numbering: its next state becomes current whatever its (boot, seq).

    For a board wiped or replaced under firmware that predates the ack's newest_boot
    (docs/protocol.md). The counts shown stay until then; history is untouched. Returns how
    many programs' current states were from this device.
    """
    currents = session.exec(select(CurrentState).where(CurrentState.device_id == device.id)).all()
    for current in currents:
        current.boot = current.seq = 0  # below every (boot, seq) a device sends (both >= 1)
        session.add(current)
    return len(currents)
