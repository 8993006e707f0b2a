"""Decide what one MQTT message means for the database; no network here.

`handle` adds rows to the session and returns what to publish once the caller has
committed. Every refusal becomes a DeadLetter row with a specific reason; nothing
a device sends can raise out of here except a database failure.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import protocol as schemas
from server.models import (
    CurrentState,
    DeadLetter,
    Device,
    DeviceChannel,
    Program,
    Reading,
    utcnow,
)

log = logging.getLogger(__name__)
DEAD_LETTER_PAYLOAD_CAP = 2048  # bytes kept of a refused payload: enough to see what went wrong


@dataclass
class Outcome:
    replies: list[tuple[str, bytes]] = field(default_factory=list)  # publish after commit
    changed: bool = False  # current state or device status changed: the map should know
    reason: str | None = None  # why it was refused, when it was


class Refused(ValueError):
    """A message we will never store; `reply` is the rejection ack when the device needs one."""

    def __init__(self, reason: str, reply: tuple[str, bytes] | None = None):
        super().__init__(reason)
        self.reply = reply


def handle(session: Session, topic: str, payload: bytes, max_payload: int) -> Outcome:
    try:
        return _handle(session, topic, payload, max_payload)
    except Refused as refused:
        return _dead_letter(session, topic, payload, str(refused), refused.reply)


def internal_error(session: Session, topic: str, payload: bytes, error: Exception) -> Outcome:
    """A message that made our own code fail: keep it, with the error's name, for a developer."""
    return _dead_letter(session, topic, payload, f"internal error: {type(error).__name__}", None)


def _dead_letter(session, topic, payload, reason, reply) -> Outcome:
    log.warning("dead letter on %s: %s", topic, reason)
    session.add(
        DeadLetter(topic=topic[:512], payload=payload[:DEAD_LETTER_PAYLOAD_CAP], reason=reason)
    )
    return Outcome(replies=[reply] if reply else [], reason=reason)


def _handle(session: Session, topic: str, payload: bytes, max_payload: int) -> Outcome:
    if len(payload) > max_payload:
        raise Refused(f"payload too large: {len(payload)} bytes, limit {max_payload}")
    try:
        device_id, suffix = protocol.parse_topic(topic)
    except ValueError as e:
        raise Refused(f"bad topic: {e}") from None
    if suffix in ("ack", "config"):
        return Outcome()  # our own messages to devices, seen because we subscribe to signal/#
    try:
        message = protocol.decode(payload)
        schemas.check(suffix, message)
    except ValueError as e:
        raise Refused(str(e), _rejection(device_id, suffix, payload, str(e))) from None
    device = session.get(Device, device_id)
    if device is None:
        raise Refused(f"unknown device: {device_id}")
    now = utcnow()
    device.last_seen = now
    session.add(device)
    if suffix == "state":
        return _state(session, device, message, now)
    if suffix == "status":
        return _status(device, message, now)
    return _telemetry(device, message)


def _rejection(device_id, suffix, payload, reason):
    """A state that names its (boot, seq) gets a rejection ack so the dial can say so."""
    if suffix != "state":
        return None
    try:
        message = json.loads(payload)
        boot, seq = message["boot"], message["seq"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(boot, int) and isinstance(seq, int) and boot > 0 and seq > 0):
        return None
    return protocol.topic(device_id, "ack"), protocol.encode_ack(
        boot, seq, "rejected", reason[:200]
    )


def _state(session: Session, device: Device, message: dict, now: datetime) -> Outcome:
    boot, seq = message["boot"], message["seq"]
    ack = protocol.topic(device.id, "ack")
    stored = session.exec(
        select(Reading.channel, Reading.occupied, Reading.capacity).where(
            Reading.device_id == device.id, Reading.boot == boot, Reading.seq == seq
        )
    ).all()
    if stored:  # a resend: already stored, confirm again, unless it says something else
        if sorted(stored) != _expected(message):
            reason = f"conflicting duplicate: boot {boot} seq {seq} was stored with other counts"
            raise Refused(reason, (ack, protocol.encode_ack(boot, seq, "rejected", reason)))
        return Outcome(replies=[(ack, protocol.encode_ack(boot, seq, "saved"))])

    # channel -> (program, its beds out of service now), in the same query
    pairs = {
        channel: (program_id, out_of_service)
        for channel, program_id, out_of_service in session.exec(
            select(DeviceChannel.channel, DeviceChannel.program_id, Program.out_of_service)
            .join(Program, Program.id == DeviceChannel.program_id)
            .where(DeviceChannel.device_id == device.id)
        )
    }
    readings = []
    for number, channel in enumerate(message["channels"]):
        count, capacity = channel["count"], channel["capacity"]
        reason = None
        if number not in pairs:
            reason = f"channel {number} is not paired with a program"
        elif count > capacity:
            reason = f"count {count} above capacity {capacity} on channel {number}"
        if reason:
            raise Refused(reason, (ack, protocol.encode_ack(boot, seq, "rejected", reason)))
        occupied = _occupied(message["mode"], count, capacity)
        program_id, out_of_service = pairs[number]
        readings.append(
            Reading(
                program_id=program_id,
                device_id=device.id,
                boot=boot,
                seq=seq,
                channel=number,
                occupied=occupied,
                capacity=capacity,
                out_of_service=out_of_service,
                source=message.get("source", "dial"),
                device_ts=datetime.fromtimestamp(message["ts"], UTC) if message.get("ts") else None,
                received_at=now,
            )
        )
    session.add_all(readings)
    session.flush()  # assigns reading ids
    for reading in readings:
        make_current(session, reading)
    if device.status != "online":
        device.status, device.status_at = "online", now
    device.applied_config_version = message["config_version"]
    return Outcome(replies=[(ack, protocol.encode_ack(boot, seq, "saved"))], changed=True)


def make_current(session: Session, reading: Reading) -> None:
    """Make a stored `reading` its program's current state, unless a newer one already is.

    From the same device (or both from no device, as replayed imports) the larger (boot, seq)
    is newer, so a late arrival stays in history only; from different sources (another dial,
    the web dial, an import) the later reading is newer, so an old night never hides a live
    count. Also used by server/imports/replay.py.
    """
    current = session.get(CurrentState, reading.program_id)
    if current is not None:
        if current.device_id == reading.device_id:
            newer = (current.boot, current.seq) > (reading.boot, reading.seq)
        else:
            newer = current.updated_at > reading.received_at
        if newer:
            return
    session.merge(
        CurrentState(
            program_id=reading.program_id,
            reading_id=reading.id,
            device_id=reading.device_id,
            boot=reading.boot,
            seq=reading.seq,
            occupied=reading.occupied,
            capacity=reading.capacity,
            updated_at=reading.received_at,
        )
    )


def _occupied(mode: str, count: int, capacity: int) -> int:
    return count if mode == "occupied" else capacity - count


def _expected(message: dict) -> list[tuple[int, int, int]]:
    """(channel, occupied, capacity) rows a state message stores, to compare with a resend."""
    return [
        (number, _occupied(message["mode"], ch["count"], ch["capacity"]), ch["capacity"])
        for number, ch in enumerate(message["channels"])
    ]


def _status(device: Device, message: dict, now: datetime) -> Outcome:
    changed = device.status != message["state"]
    device.status = message["state"]
    if changed:
        device.status_at = now
    device.boot = message.get("boot", device.boot)
    device.firmware = message.get("fw", device.firmware)
    device.applied_config_version = message.get("config_version", device.applied_config_version)
    return Outcome(changed=changed)


def _telemetry(device: Device, message: dict) -> Outcome:
    device.firmware = message["fw"]
    device.rssi = message.get("rssi")
    device.free_heap = message.get("free_heap")
    device.queue = message["queue"]
    return Outcome()
