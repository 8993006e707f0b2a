"""Tables. Public shapes the API returns live in schemas.py, so no column leaks by accident.

Times are time-zone aware and stored as UTC (SQLModel's UTCDateTime does the conversion).
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


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


class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: str | None = Field(default=None, unique=True)  # e.g. toronto:1320 (imports)
    name: str = Field(index=True)
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    phone: str | None = None
    organization: str | None = None
    confidential: bool = False  # e.g. violence-against-women sites: never located publicly


class Program(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: str | None = Field(default=None, unique=True)  # e.g. toronto:16892 (imports)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str
    sector: Sector
    capacity_type: CapacityType = CapacityType.beds
    capacity: int = Field(ge=0)
    accepting: bool = True


class Device(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)  # the id in its MQTT topics
    site_id: int | None = Field(default=None, foreign_key="site.id")
    secret_hash: str | None = None  # the device's MQTT/web-dial credential, hashed (credentials.py)
    mode: str = "occupied"  # what the dial counts: occupied or free
    config_version: int = 1  # of the config we publish to it; bump on every change
    applied_config_version: int | None = None  # what the device says it applies
    status: str = "unknown"  # online, offline, lost or unknown (never heard from)
    status_at: datetime | None = Field(default=None, index=True)
    last_seen: datetime | None = None
    boot: int | None = None
    firmware: str | None = None
    rssi: int | None = None
    free_heap: int | None = None
    queue: int | None = None


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


class DeadLetter(SQLModel, table=True):
    """A message we could not accept, kept with the reason so someone can act on it."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    topic: str
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    reason: str
