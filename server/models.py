"""Tables, and the field sets they share with the API's create and public shapes.

The pattern (FastAPI's full-stack template): `SiteBase` holds the fields a client may send,
`Site(SiteBase, table=True)` adds what only the server sets, and schemas.py derives the
create, update and public shapes from the same bases. Columns that must never leave the
server (secret hashes) live only on the table classes, so no shape can leak them.

Times are time-zone aware and stored as UTC (SQLModel's UTCDateTime does the conversion).
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints, field_validator
from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

# The dial's config schema (server/protocol/config.schema.json) caps a channel's capacity.
MAX_CAPACITY = 10_000
MAX_AGE = 120  # years; an upper bound for age limits that no shelter reaches
# A hold lasts at most a day: Finding A Bed Tonight holds for 90 minutes, 2 to 3 hours for
# hospital discharges; the city's own maximum (SIGNAL_HOLD_MAX_MINUTES) is usually lower.
MAX_HOLD_MINUTES = 24 * 60
MAX_HOLD_NOTE = 140  # an SMS's worth: "arriving by bus, has a walker", never a name
ALERT_KIND = r"^[a-z][a-z0-9_-]{1,31}$"  # e.g. cold, heat, winter: safe in URLs and logs
CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # HH:MM, 24-hour, local
# One span of intake hours: a weekday and local times, "mon 09:00-17:00". A span whose end
# is not after its start runs overnight into the next day ("fri 20:00-08:00"); "00:00-24:00"
# is the whole day. server/intake.py reads them (and makes them from text such as "24/7").
IntakeSpan = Annotated[
    str,
    StringConstraints(
        pattern=r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
        r"|^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d-24:00$"
    ),
]
MAX_INTAKE_SPANS = 21  # three spans a day (a morning, an afternoon and a night intake)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sector(StrEnum):  # the City of Toronto's SECTOR values, lower-cased
    men = "men"
    women = "women"
    youth = "youth"
    families = "families"
    mixed = "mixed"


class CapacityType(StrEnum):
    beds = "beds"
    rooms = "rooms"


class Gender(StrEnum):
    """Who a site serves, by gender identity; `any` is everyone, including non-binary people."""

    men = "men"
    women = "women"
    any = "any"


class Role(StrEnum):
    """What a caller may see and do, from the API key it presents (docs/api.md)."""

    public = "public"  # no key
    outreach = "outreach"
    city = "city"
    admin = "admin"

    def at_least(self, other: "Role") -> bool:
        """Each role may do what the roles listed before it may, and more."""
        order = list(Role)
        return order.index(self) >= order.index(other)


class Text(SQLModel):
    """Fields people type: a NUL character is refused on every database alike (PostgreSQL
    cannot store it in text and fails the whole request; SQLite would keep it silently)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character (U+0000)")
        return value


class SiteBase(Text):
    name: str = Field(index=True, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=16)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    phone: str | None = Field(default=None, max_length=50)  # the intake line
    organization: str | None = Field(default=None, max_length=200)
    intake_hours: str | None = Field(default=None, max_length=500)  # e.g. "24/7"
    intake_instructions: str | None = Field(default=None, max_length=2000)
    # Eligibility. None means "not known": a filter for pets=true does not match it.
    pets_allowed: bool | None = None
    wheelchair_accessible: bool | None = None
    couples_allowed: bool | None = None
    gender_served: Gender | None = None
    min_age: int | None = Field(default=None, ge=0, le=MAX_AGE)  # None: no lower limit
    max_age: int | None = Field(default=None, ge=0, le=MAX_AGE)  # None: no upper limit
    confidential: bool = False  # e.g. violence-against-women sites: never located publicly


class Site(SiteBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: str | None = Field(default=None, unique=True)  # e.g. toronto:1320 (imports)
    # When an admin last changed the site, its programs or its dials: the event stream then
    # sends the site again (server/api/live.py)
    edited_at: datetime | None = Field(default=None, index=True)


class ProgramBase(Text):
    name: str = Field(min_length=1, max_length=200)
    sector: Sector
    capacity_type: CapacityType = CapacityType.beds
    capacity: int = Field(ge=0, le=MAX_CAPACITY)
    # Beds or rooms out of service (repairs, an outbreak): counted in capacity, never
    # available. Available = capacity - occupied - held - out_of_service (held: Hold rows).
    out_of_service: int = Field(default=0, ge=0, le=MAX_CAPACITY)
    accepting: bool = True  # taking new guests at all (a program can pause intake)
    # How long a hold on one of its places lasts unless the worker asks for less; None: the
    # city's default (SIGNAL_HOLD_DEFAULT_MINUTES). Never above SIGNAL_HOLD_MAX_MINUTES.
    hold_minutes: int | None = Field(default=None, ge=1, le=MAX_HOLD_MINUTES)
    # When it takes people in, in the city's time zone: None is not known (the page then
    # cannot say intake is open now); [] is never (by referral only).
    intake_schedule: list[IntakeSpan] | None = Field(
        default=None, max_length=MAX_INTAKE_SPANS, sa_type=JSON
    )
    # A surge or warming program: open only while an alert of this kind is on (e.g. "cold"),
    # during its window ("HH:MM" local times, e.g. 19:00 to 12:00 the next day; none: all
    # day). None: an ordinary program, always open (server/alerts.py).
    # (`schema_extra`, not SQLModel's `regex=`: that one is passed to Pydantic 2, which
    # ignores it, so "99:99" was stored and then broke every look at the surge programs.)
    opens_with_alert: str | None = Field(
        default=None, max_length=32, schema_extra={"pattern": ALERT_KIND}
    )
    window_start: str | None = Field(
        default=None, max_length=5, schema_extra={"pattern": CLOCK_TIME}
    )
    window_end: str | None = Field(default=None, max_length=5, schema_extra={"pattern": CLOCK_TIME})


class Program(ProgramBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: str | None = Field(default=None, unique=True)  # e.g. toronto:16892 (imports)
    site_id: int = Field(foreign_key="site.id", index=True)


class Device(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)  # the id in its MQTT topics
    site_id: int | None = Field(default=None, foreign_key="site.id")
    secret_hash: str | None = None  # the device's MQTT/web-dial credential, hashed (credentials.py)
    mode: str = "occupied"  # what the dial counts: occupied or free
    config_version: int = 1  # of the config we publish to it; bump on every change
    # The config_version the ingestor last published: it publishes again while they differ.
    published_config_version: int | None = None
    applied_config_version: int | None = None  # what the device says it applies
    status: str = "unknown"  # online, offline, lost or unknown (never heard from)
    status_at: datetime | None = Field(default=None, index=True)
    last_seen: datetime | None = None
    boot: int | None = None
    firmware: str | None = None
    rssi: int | None = None
    free_heap: int | None = None
    queue: int | None = None
    # Over-the-air updates (server/firmware.py): the release rolled out to it (None: none),
    # and what the ingestor last published on its retained `ota` topic: it publishes the
    # manifest, or the withdrawal, again while the two differ.
    target_firmware: str | None = Field(default=None, max_length=32)
    published_target_firmware: str | None = Field(default=None, max_length=32)
    # The dial's newest `update` report: which version, its state, why (failed, rolled back)
    update_version: str | None = Field(default=None, max_length=32)
    update_state: str | None = None  # downloading, staged, trial, done, rolled_back, failed
    update_reason: str | None = None
    update_at: datetime | None = None  # when the report last changed


class FirmwareRelease(SQLModel, table=True):
    """A firmware version dials can be updated to; its files are FirmwareFile rows. A release
    never changes: storing a version again with other files is refused (server/firmware.py)."""

    version: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class FirmwareFile(SQLModel, table=True):
    """One file of a release, as the dial writes it: board/*.py or dialcore/*.py."""

    version: str = Field(foreign_key="firmwarerelease.version", primary_key=True, max_length=32)
    path: str = Field(primary_key=True, max_length=64)
    size: int = Field(ge=0)
    sha256: str = Field(max_length=64)  # hex, lower case
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DeviceConfig(SQLModel, table=True):
    """The capacities, channel by channel, of a config a device was sent: a dial's state must
    count against the capacities of the config_version it reports (docs/protocol.md)."""

    device_id: str = Field(foreign_key="device.id", primary_key=True)
    version: int = Field(primary_key=True)
    capacities: list[int] = Field(sa_column=Column(JSON, nullable=False))


class DeviceChannel(SQLModel, table=True):
    """Pairs channel N of a device with one program."""

    device_id: str = Field(foreign_key="device.id", primary_key=True)
    channel: int = Field(primary_key=True, ge=0)
    program_id: int = Field(foreign_key="program.id", unique=True)
    label: str


class Reading(SQLModel, table=True):
    """Append-only: every accepted count, with the capacity it was counted against."""

    __table_args__ = (UniqueConstraint("device_id", "boot", "seq", "channel"),)
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    device_id: str | None = Field(default=None, foreign_key="device.id")
    boot: int
    seq: int
    channel: int
    occupied: int = Field(ge=0)
    capacity: int = Field(ge=0)
    # The program's out_of_service when the reading arrived: history keeps availability
    # right when beds go out of service or come back, like capacity.
    out_of_service: int = Field(default=0, ge=0)
    source: str  # dial, web or import
    device_ts: datetime | None = None
    received_at: datetime = Field(default_factory=utcnow, index=True)


class CurrentState(SQLModel, table=True):
    """The newest reading per program: what the map and the API show."""

    program_id: int = Field(foreign_key="program.id", primary_key=True)
    reading_id: int = Field(foreign_key="reading.id", index=True)
    device_id: str | None = None
    boot: int
    seq: int
    occupied: int
    capacity: int
    updated_at: datetime


class Alert(SQLModel, table=True):
    """A city alert (e.g. an Extreme Cold Weather Alert) that opens every program tied to its
    kind at their next window, until it ends (server/alerts.py). Kept after it ends: what
    was open when."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    name: str = Field(max_length=100)  # what the map says, e.g. "Extreme Cold Weather Alert"
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class HoldState(StrEnum):
    active = "active"  # the place is held until expires_at
    arrived = "arrived"  # the person came: the desk counted them in, in the same commit
    released = "released"  # the desk let the place go
    cancelled = "cancelled"  # the worker who placed it let it go
    expired = "expired"  # nobody came in time


class Hold(SQLModel, table=True):
    """One place of a program held by an outreach worker for the person beside them.

    No personal data: the note is free text the worker is told never to put a name in, and
    only the key that placed the hold (and the desk) ever reads it back.
    """

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    key_id: int | None = Field(default=None, foreign_key="apikey.id", index=True)  # None: bootstrap
    code: str = Field(max_length=8)  # read out to the desk, e.g. "K7Q4"
    note: str | None = Field(default=None, max_length=MAX_HOLD_NOTE)
    state: HoldState = Field(default=HoldState.active, index=True)
    placed_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    ended_at: datetime | None = None


class TurnAway(SQLModel, table=True):
    """A dial's running total of people turned away for one reason at one channel, as it
    reached `total` in a boot (docs/protocol.md, Turn-aways). No person data: a count.

    Each row is stored once; the people it adds are `total` less the next lower total of the
    same (device, boot, channel, reason) (server/turnaways.py), so rows arriving out of
    order, twice, or from two ingestors at once never count a person twice or not at all.
    """

    __table_args__ = (UniqueConstraint("device_id", "boot", "channel", "reason", "total"),)
    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True)
    device_id: str = Field(foreign_key="device.id")
    boot: int
    seq: int  # the commit that first carried this total
    channel: int
    reason: str = Field(max_length=32)  # firmware/dialcore/protocol.py TURN_AWAY_REASONS
    total: int = Field(ge=1)
    source: str  # dial or web
    received_at: datetime = Field(default_factory=utcnow, index=True)


class DeadLetter(SQLModel, table=True):
    """A message we could not accept, kept with the reason so someone can act on it."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    topic: str
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str


class ApiKey(SQLModel, table=True):
    """A key for outreach, city or admin callers; the key itself is shown once, then hashed.

    A key reads `<lookup>.<secret>`: `lookup` finds the row (it is not secret), so checking
    a key costs one hash, not one per key on file.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)  # who holds it, e.g. "Streets to Homes outreach"
    role: Role
    lookup: str = Field(unique=True, max_length=16)
    key_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
