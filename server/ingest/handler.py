"""Decide what MQTT messages mean for the database; no network here.

`handle_batch` adds a batch of messages to the session and returns, for each, what to
publish once the caller has committed. It reads what it needs in a few queries for the whole
batch (devices, stored keys, pairings, current states) and writes the readings in one
statement: queries per message (~7 round trips each) held ingest to ~300 messages a second
on PostgreSQL, a batch of 200 this way to ~3,500. `handle` is the same for one message.

Every refusal becomes a DeadLetter row with a specific reason, and a reason code from
REASONS for metrics; nothing a device sends can raise out of here except a database failure.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import insert, tuple_
from sqlmodel import Session, col, select

from firmware.dialcore import protocol
from server import alerts, firmware, holds
from server import protocol as schemas
from server.devices import newest_readings
from server.models import (
    CurrentState,
    DeadLetter,
    Device,
    DeviceChannel,
    DeviceConfig,
    Program,
    Reading,
    TurnAway,
    utcnow,
)
from server.settings import get_settings

log = logging.getLogger(__name__)
# What the server publishes to devices: seen on signal/#, never handled (a chunk can be larger
# than a device may send, so these are recognised before the size check)
OWN_SUFFIXES = ("ack", "config", "ota", "chunk")
DEAD_LETTER_PAYLOAD_CAP = 2048  # bytes kept of a refused payload: enough to see what went wrong
# Why a message was refused, as a short code (the metrics' label: a fixed, small set)
REASONS = (
    "too_large",  # over SIGNAL_MAX_PAYLOAD_BYTES
    "bad_topic",  # not signal/v1/<device>/<suffix>
    "bad_payload",  # not JSON, wrong protocol version, or breaks the message's schema
    "unknown_device",  # not registered
    "unpaired_channel",  # a channel no program is paired with
    "over_capacity",  # a count above the channel's capacity
    "wrong_capacity",  # capacities not those of the config_version the state reports
    "closed_program",  # a new count on the channel of a closed program
    "conflicting_duplicate",  # a (boot, seq) stored before with other counts
    "unknown_firmware",  # a fetch of a release, or a file of one, that is not stored
    "bad_offset",  # a fetch past the end of the file
    "internal_error",  # our own code failed on it
)


@dataclass
class Outcome:
    replies: list[tuple[str, bytes]] = field(default_factory=list)  # publish after commit
    changed: bool = False  # current state or device status changed: the map should know
    reason: str | None = None  # why it was refused, when it was
    code: str | None = None  # the reason's code, one of REASONS
    result: str = "stored"  # stored, duplicate, answered (a fetch), rejected or ignored
    readings: int = 0  # readings stored (one per channel of a new state)
    ts: int | None = None  # a stored state's own time (the dial's clock), Unix seconds


class Refused(ValueError):
    """A message we will never store; `reply` is the rejection ack when the device needs one."""

    def __init__(self, code: str, reason: str, reply: tuple[str, bytes] | None = None):
        super().__init__(reason)
        self.code = code
        self.reply = reply


class Stamp(NamedTuple):
    """Which reading a current state shows, and when it arrived: enough to order two."""

    device_id: str | None
    boot: int
    seq: int
    at: datetime

    def superseded_by(self, other: "Stamp") -> bool:
        """From the same device (or both from no device, as replayed imports) the larger
        (boot, seq) is newer, so a late arrival stays in history only; from different sources
        (another dial, the web dial, an import) the later arrival is newer, so an old night
        never hides a live count."""
        if self.device_id == other.device_id:
            return (self.boot, self.seq) <= (other.boot, other.seq)
        return self.at <= other.at


def handle(
    session: Session, topic: str, payload: bytes, max_payload: int, zone: ZoneInfo | None = None
) -> Outcome:
    """One message: a batch of one."""
    return handle_batch(session, [(topic, payload)], max_payload, zone)[0]


def handle_batch(
    session: Session,
    messages: list[tuple[str, bytes]],
    max_payload: int,
    zone: ZoneInfo | None = None,
) -> list[Outcome]:
    """Handle (topic, payload) pairs in arrival order; the caller commits them together.
    zone: the city's, which says when alert programs are open (default: SIGNAL_TIMEZONE)."""
    parsed = [_parse(topic, payload, max_payload) for topic, payload in messages]
    valid = [item for item in parsed if isinstance(item, tuple)]
    devices = {}
    if valid:
        wanted = {device_id for device_id, _suffix, _message in valid}
        devices = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(wanted)))}
    now = utcnow()
    states = _States(
        session,
        [(d, m) for d, s, m in valid if s == "state" and d in devices],
        now,
        zone or get_settings().zone,
    )
    outcomes = []
    for (topic, payload), item in zip(messages, parsed, strict=True):
        if isinstance(item, Refused):  # refused by _parse already
            outcomes.append(_dead_letter(session, topic, payload, item))
            continue
        if isinstance(item, Outcome):
            outcomes.append(item)
            continue
        try:
            device_id, suffix, message = item
            device = devices.get(device_id)
            if device is None:
                raise Refused("unknown_device", f"unknown device: {device_id}")
            device.last_seen = now
            if suffix == "state":
                outcome = states.add(device, message, now)
            elif suffix == "status":
                outcome = _status(device, message, now)
            elif suffix == "fetch":
                outcome = _fetch(session, device, message)
            elif suffix == "update":
                outcome = _update(device, message, now)
            else:
                outcome = _telemetry(device, message)
        except Refused as refused:
            outcome = _dead_letter(session, topic, payload, refused)
        outcomes.append(outcome)
    states.write()
    return outcomes


def internal_error(session: Session, topic: str, payload: bytes, error: Exception) -> Outcome:
    """A message that made our own code fail: keep it, with the error's name, for a developer."""
    refused = Refused("internal_error", f"internal error: {type(error).__name__}")
    return _dead_letter(session, topic, payload, refused)


def _dead_letter(session, topic, payload, refused: Refused) -> Outcome:
    log.warning("dead letter on %s: %s", topic, refused)
    letter = DeadLetter(
        topic=topic[:512], payload=payload[:DEAD_LETTER_PAYLOAD_CAP], reason=str(refused)
    )
    session.add(letter)
    reply = [refused.reply] if refused.reply else []
    return Outcome(replies=reply, reason=str(refused), code=refused.code, result="rejected")


def _parse(
    topic: str, payload: bytes, max_payload: int
) -> tuple[str, str, dict] | Outcome | Refused:
    """(device id, suffix, message) of a message to look up in the database; else its outcome
    (ignored) or why it is refused, found without the database."""
    try:
        device_id, suffix = protocol.parse_topic(topic)
    except ValueError as e:
        return Refused("bad_topic", f"bad topic: {e}")
    if suffix in OWN_SUFFIXES:  # ours to devices, seen because we subscribe to signal/#
        return Outcome(result="ignored")
    if len(payload) > max_payload:
        return Refused("too_large", f"payload too large: {len(payload)} bytes, limit {max_payload}")
    try:
        message = protocol.decode(payload)
        schemas.check(suffix, message)
        _storable_text(payload, message)
    except RecursionError:  # json and jsonschema recurse once per level of nesting
        return Refused("bad_payload", "payload is nested too deeply")
    except ValueError as e:
        return Refused("bad_payload", str(e), _rejection(device_id, suffix, payload, str(e)))
    return device_id, suffix, message


def _storable_text(payload: bytes, message: dict) -> None:
    """Raise ValueError for a JSON escape of a lone surrogate (say "\\ud800"): valid JSON,
    but no database can store it as text. Only payloads with an escape need the check."""
    if b"\\u" in payload:
        try:
            json.dumps(message, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ValueError("payload has a string that is not valid Unicode") from None


def _rejection(device_id, suffix, payload, reason):
    """A state that names its (boot, seq) gets a rejection ack so the dial can say so."""
    if suffix != "state":
        return None
    try:
        message = json.loads(payload)
        boot, seq = message["boot"], message["seq"]
    except (ValueError, TypeError, KeyError):
        return None
    # type(...) is int: JSON true is a Python int too, and an ack must carry a number
    if not (type(boot) is int and type(seq) is int and boot > 0 and seq > 0):
        return None
    return protocol.topic(device_id, "ack"), protocol.encode_ack(
        boot, seq, "rejected", reason[:200]
    )


class _States:
    """The state messages of one batch: what the database already holds for them is read in
    three queries up front; `add` decides each message in memory; `write` stores them all."""

    def __init__(
        self, session: Session, states: list[tuple[str, dict]], now: datetime, zone: ZoneInfo
    ):
        self.session = session
        self.rows: list[dict] = []  # readings to insert, in arrival order
        self.winners: dict[int, int] = {}  # program id -> index in rows of its new current state
        keys = {(device_id, m["boot"], m["seq"]) for device_id, m in states}
        device_ids = {device_id for device_id, _message in states}
        # (device, boot, seq) -> sorted (channel, occupied, capacity) stored under that key
        self.stored: dict[tuple, list[tuple[int, int, int]]] = {}
        # device -> channel -> (program, its beds out of service now)
        self.pairs: dict[str, dict[int, tuple[int, int]]] = {d: {} for d in device_ids}
        # device -> the capacities of its current config, in channel order
        self.capacities: dict[str, dict[int, int]] = {d: {} for d in device_ids}
        # (device, config version) -> the capacities of that config as it was sent
        self.configs: dict[tuple[str, int], list[int]] = {}
        self.current: dict[int, CurrentState] = {}
        self.closed: set[int] = set()  # programs closed now (server/alerts.py)
        # (device, channel) -> (occupied, capacity) the device last stored on a closed channel
        self.kept: dict[tuple[str, int], tuple[int, int]] = {}
        self.stamps: dict[int, Stamp] = {}  # program id -> what its current state shows now
        self.turned: list[dict] = []  # turn-away totals to insert
        self.ended: list[tuple[int, int, str]] = []  # (program, hold id, arrived or released)
        # (device, boot, channel, reason, total) of the batch's turn-away totals stored before
        self.turned_stored: set[tuple] = set()
        if not states:
            return
        turned = _turned_keys(states)
        if turned:
            self.turned_stored = set(
                session.exec(
                    select(
                        TurnAway.device_id,
                        TurnAway.boot,
                        TurnAway.channel,
                        TurnAway.reason,
                        TurnAway.total,
                    ).where(
                        tuple_(
                            TurnAway.device_id,
                            TurnAway.boot,
                            TurnAway.channel,
                            TurnAway.reason,
                            TurnAway.total,
                        ).in_(turned)
                    )
                ).all()
            )
        key = tuple_(Reading.device_id, Reading.boot, Reading.seq)
        for *stored_key, channel, occupied, capacity in session.exec(
            select(
                Reading.device_id,
                Reading.boot,
                Reading.seq,
                Reading.channel,
                Reading.occupied,
                Reading.capacity,
            ).where(key.in_(keys))
        ):
            self.stored.setdefault(tuple(stored_key), []).append((channel, occupied, capacity))
        for counts in self.stored.values():
            counts.sort()
        for device_id, channel, program_id, out_of_service, capacity in session.exec(
            select(
                DeviceChannel.device_id,
                DeviceChannel.channel,
                DeviceChannel.program_id,
                Program.out_of_service,
                Program.capacity,
            )
            .join(Program, Program.id == DeviceChannel.program_id)
            .where(col(DeviceChannel.device_id).in_(device_ids))
        ):
            self.pairs[device_id][channel] = (program_id, out_of_service)
            self.capacities[device_id][channel] = capacity
        versions = {(device_id, m["config_version"]) for device_id, m in states}
        config_key = tuple_(DeviceConfig.device_id, DeviceConfig.version)
        for config in session.exec(select(DeviceConfig).where(config_key.in_(versions))):
            self.configs[config.device_id, config.version] = config.capacities
        programs = {p for channels in self.pairs.values() for p, _out in channels.values()}
        if programs:
            query = select(CurrentState).where(col(CurrentState.program_id).in_(programs))
            for current in session.exec(query):
                self.current[current.program_id] = current
                self.stamps[current.program_id] = _stamp(current)
            self.closed = alerts.closed(session, list(programs), now, zone)
        for device_id, channels in self.pairs.items():
            shut = {n: p for n, (p, _out) in channels.items() if p in self.closed}
            for number, kept in newest_readings(session, device_id, shut).items():
                self.kept[device_id, number] = kept

    def add(self, device: Device, message: dict, now: datetime) -> Outcome:
        boot, seq = message["boot"], message["seq"]
        ack = protocol.topic(device.id, "ack")

        pairs = self.pairs[device.id]
        newest = self._newest_boot(device.id, pairs, boot, seq)

        def answer(result: str, reason: str | None = None) -> bytes:
            return protocol.encode_ack(boot, seq, result, reason, newest)

        def refuse(code: str, reason: str) -> Refused:  # with the ack that tells the dial why
            return Refused(code, reason, (ack, answer("rejected", reason)))

        expected = _expected(message)
        stored = self.stored.get((device.id, boot, seq))
        if stored is not None:  # a resend: already stored, confirm again, unless it differs
            kept = {number for number, _occupied, _capacity in stored}  # closed ones were not
            if stored != [row for row in expected if row[0] in kept]:
                raise refuse(
                    "conflicting_duplicate",
                    f"conflicting duplicate: boot {boot} seq {seq} was stored with other counts",
                )
            return Outcome(replies=[(ack, answer("saved"))], result="duplicate")
        for number, channel in enumerate(message["channels"]):
            count, capacity = channel["count"], channel["capacity"]
            if number not in pairs:
                raise refuse("unpaired_channel", f"channel {number} is not paired with a program")
            if count > capacity:
                raise refuse(
                    "over_capacity", f"count {count} above capacity {capacity} on channel {number}"
                )
        self._check_capacities(device, message, refuse)
        open_rows = self._check_closed(device.id, message, expected, refuse)
        ts = message.get("ts")
        device_ts = datetime.fromtimestamp(ts, UTC) if ts else None  # the same for every channel
        source = message.get("source", "dial")
        stamp = Stamp(device.id, boot, seq, now)
        for number, occupied, capacity in open_rows:
            program_id, out_of_service = pairs[number]
            current = self.stamps.get(program_id)
            if current is None or current.superseded_by(stamp):
                self.stamps[program_id] = stamp
                self.winners[program_id] = len(self.rows)
            self.rows.append(
                {
                    "program_id": program_id,
                    "device_id": device.id,
                    "boot": boot,
                    "seq": seq,
                    "channel": number,
                    "occupied": occupied,
                    "capacity": capacity,
                    "out_of_service": out_of_service,
                    "source": source,
                    "device_ts": device_ts,
                    "received_at": now,
                }
            )
        self.stored[(device.id, boot, seq)] = open_rows  # a copy later in the batch: a resend
        self._turned(device.id, message, pairs, source, now)
        for number, channel in enumerate(message["channels"]):
            for hold_id, state in channel.get("holds_ended", {}).items():
                self.ended.append((pairs[number][0], int(hold_id), state))
        if device.status != "online":
            device.status, device.status_at = "online", now
        device.applied_config_version = message["config_version"]
        return Outcome(
            replies=[(ack, answer("saved"))],
            changed=True,
            readings=len(expected),
            ts=ts,
        )

    def _check_capacities(self, device: Device, message: dict, refuse) -> None:
        """A dial counts against the capacities of the config it reports: refuse any other
        (say 10,000 beds on a 30-bed program), with a reason the dial shows."""
        version = message["config_version"]
        if version != device.config_version and (device.id, version) in self.configs:
            given = self.configs[device.id, version]  # an older config, as it was sent
        else:
            # the newest; or none yet (0: what `device add` provisioned, from the pairing); or
            # one sent before configs were kept: the pairing as it is now
            given = [capacity for _n, capacity in sorted(self.capacities[device.id].items())]
        sent = [channel["capacity"] for channel in message["channels"]]
        if len(sent) != len(given):
            raise refuse(
                "wrong_capacity",
                f"{len(sent)} channels, but config {version} has {len(given)}",
            )
        for number, (capacity, expected) in enumerate(zip(sent, given, strict=True)):
            if capacity != expected:
                raise refuse(
                    "wrong_capacity",
                    f"capacity {capacity} on channel {number} is not the {expected} "
                    f"of config {version}",
                )

    def _check_closed(self, device_id: str, message: dict, expected: list, refuse) -> list:
        """The rows of `expected` to store: those of open programs. A closed program's channel
        stores nothing (its count and its age stay as they were when it closed), and a state
        whose count there is not the one this device last stored is refused: the desk counted
        at a closed program (docs/protocol.md, Closed programs)."""
        pairs = self.pairs[device_id]
        rows = []
        for number, occupied, capacity in expected:
            if pairs[number][0] not in self.closed:
                rows.append((number, occupied, capacity))
                continue
            kept = self.kept.get((device_id, number))
            if kept is not None and kept[0] != occupied:
                count = kept[0] if message["mode"] == "occupied" else capacity - kept[0]
                raise refuse(
                    "closed_program",
                    f"closed: channel {number}'s program is not open now; its count stays "
                    f"{count} until it opens",
                )
        return rows

    def _newest_boot(self, device_id: str, pairs: dict, boot: int, seq: int) -> int | None:
        """The boot of a newer current state from this device than (boot, seq), if one of
        its programs shows one: the dial was wiped or replaced (docs/protocol.md)."""
        newer = [
            stamp.boot
            for program_id, _out in pairs.values()
            if (stamp := self.stamps.get(program_id)) is not None
            and stamp.device_id == device_id
            and (stamp.boot, stamp.seq) > (boot, seq)
        ]
        return max(newer, default=None)

    def _turned(self, device_id: str, message: dict, pairs: dict, source: str, now) -> None:
        """The turn-away totals this state carries that are not stored yet."""
        boot, seq = message["boot"], message["seq"]
        for number, channel in enumerate(message["channels"]):
            for reason, total in channel.get("turned_away", {}).items():
                key = (device_id, boot, number, reason, total)
                if key in self.turned_stored:
                    continue
                self.turned_stored.add(key)
                self.turned.append(
                    {
                        "program_id": pairs[number][0],
                        "device_id": device_id,
                        "boot": boot,
                        "seq": seq,
                        "channel": number,
                        "reason": reason,
                        "total": total,
                        "source": source,
                        "received_at": now,
                    }
                )

    def write(self) -> None:
        """Insert the readings in one statement, then point current states at the winners."""
        if self.turned:
            self.session.execute(insert(TurnAway), self.turned)
        for program_id, hold_id, state in self.ended:  # in the commit of the count itself
            holds.end_at_desk(self.session, program_id, hold_id, state, utcnow())
        if not self.rows:
            return
        statement = insert(Reading).returning(Reading.id, sort_by_parameter_order=True)
        ids = self.session.scalars(statement, self.rows).all()
        for program_id, index in self.winners.items():
            row = self.rows[index]
            values = {
                "reading_id": ids[index],
                "device_id": row["device_id"],
                "boot": row["boot"],
                "seq": row["seq"],
                "occupied": row["occupied"],
                "capacity": row["capacity"],
                "updated_at": row["received_at"],
            }
            current = self.current.get(program_id)
            if current is None:
                self.session.add(CurrentState(program_id=program_id, **values))
            else:
                for name, value in values.items():
                    setattr(current, name, value)


def _turned_keys(states: list[tuple[str, dict]]) -> set[tuple]:
    """(device, boot, channel, reason, total) of every turn-away total in the states."""
    return {
        (device_id, m["boot"], number, reason, total)
        for device_id, m in states
        for number, channel in enumerate(m["channels"])
        for reason, total in channel.get("turned_away", {}).items()
    }


def _stamp(current: CurrentState) -> Stamp:
    return Stamp(current.device_id, current.boot, current.seq, current.updated_at)


def make_current(session: Session, reading: Reading) -> None:
    """Make a stored `reading` its program's current state, unless a newer one already is
    (Stamp.superseded_by says which is newer). Used by server/imports/replay.py."""
    current = session.get(CurrentState, reading.program_id)
    stamp = Stamp(reading.device_id, reading.boot, reading.seq, reading.received_at)
    if current is not None and not _stamp(current).superseded_by(stamp):
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


def _fetch(session: Session, device: Device, message: dict) -> Outcome:
    """Answer a dial's fetch with the chunk of the release file it asks for."""
    # JSON Schema's "integer" admits 0.0; the chunk must carry the integer a dial checks for.
    version, path, offset = message["version"], message["path"], int(message["offset"])
    try:
        data = firmware.chunk(session, version, path, offset)
    except firmware.FetchRefused as refused:
        raise Refused(refused.code, str(refused)) from None
    reply = protocol.topic(device.id, "chunk"), protocol.encode_chunk(version, path, offset, data)
    return Outcome(replies=[reply], result="answered")


def _update(device: Device, message: dict, now: datetime) -> Outcome:
    """Keep the dial's newest update report; update_at moves only when the report changes
    (a retained report comes again after every resubscribe)."""
    report = (message["version"], message["state"], message.get("reason"))
    if report != (device.update_version, device.update_state, device.update_reason):
        device.update_version, device.update_state, device.update_reason = report
        device.update_at = now
    return Outcome()


def _telemetry(device: Device, message: dict) -> Outcome:
    device.firmware = message["fw"]
    device.rssi = message.get("rssi")
    device.free_heap = message.get("free_heap")
    device.queue = message["queue"]
    return Outcome()
