"""What the API accepts and returns: explicit shapes, separate from the tables.

Create shapes derive from the tables' bases (models.py); update shapes make every field
optional (omitted = unchanged); public shapes add what the server computes. No shape here
has a hash in it: a secret leaves the server once, in the answer that issues it.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StringConstraints, ValidationError, model_validator
from sqlmodel import Field, SQLModel

from server.models import (
    MAX_AGE,
    MAX_CAPACITY,
    MAX_HOLD_MINUTES,
    MAX_HOLD_NOTE,
    CapacityType,
    Gender,
    HoldState,
    ProgramBase,
    Role,
    Sector,
    SiteBase,
    Text,
)

Mode = Literal["occupied", "free"]  # what a dial counts (firmware/dialcore/protocol.py MODES)
DEVICE_ID = r"^[a-z0-9][a-z0-9-]{2,31}$"  # protocol.valid_device_id: safe in topics and URLs
MAX_CHANNELS = 8  # a dial has at most 8 channels (server/protocol/config.schema.json)
MAX_LABEL = 24  # what the dial's display shows of a channel label (config schema)
MAX_ID = 2**31 - 1  # ids are INTEGER columns; PostgreSQL's INTEGER goes no higher


def validated(shape: type[BaseModel], values: dict) -> BaseModel:
    """Check a merged record (stored values plus a PATCH) against the create shape's rules,
    answering 422 in the API's error shape when the combination is invalid."""
    try:
        return shape.model_validate(values)
    except ValidationError as e:
        raise RequestValidationError(
            [{**x, "loc": ("body", *x["loc"])} for x in e.errors()]
        ) from None


# ----------------------------------------------------------------------------- sites


class SiteCreate(SiteBase):
    @model_validator(mode="after")
    def _consistent(self):
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon: give both or neither")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age is above max_age")
        return self


class SiteUpdate(SiteBase):
    # Omitted: unchanged. These two cannot be null; the nullable fields are inherited
    # (default None), and an explicit null clears them.
    name: str = Field(default=None, min_length=1, max_length=200)
    confidential: bool = Field(default=None)


# ----------------------------------------------------------------------------- programs


class ProgramCreate(ProgramBase):
    @model_validator(mode="after")
    def _consistent(self):
        if self.out_of_service > self.capacity:
            raise ValueError("out_of_service is above capacity")
        return self


class ProgramUpdate(ProgramBase):
    # Omitted: unchanged; none of these can be null.
    name: str = Field(default=None, min_length=1, max_length=200)
    sector: Sector = Field(default=None)
    capacity_type: CapacityType = Field(default=None)
    capacity: int = Field(default=None, ge=0, le=MAX_CAPACITY)
    out_of_service: int = Field(default=None, ge=0, le=MAX_CAPACITY)
    accepting: bool = Field(default=None)


# ----------------------------------------------------------------------------- devices


class ChannelPairing(Text):
    program_id: int = Field(ge=1, le=MAX_ID)
    label: str = Field(min_length=1, max_length=MAX_LABEL)


class ChannelPublic(ChannelPairing):
    channel: int


def _unique_programs(channels: list[ChannelPairing] | None) -> None:
    ids = [c.program_id for c in channels or []]
    if len(ids) != len(set(ids)):
        raise ValueError("channels: a program can be paired with one channel only")


class DeviceCreate(SQLModel):
    id: str = Field(schema_extra={"pattern": DEVICE_ID})
    site_id: int = Field(ge=1, le=MAX_ID)
    mode: Mode = "occupied"
    channels: list[ChannelPairing] = Field(default_factory=list, max_length=MAX_CHANNELS)

    @model_validator(mode="after")
    def _consistent(self):
        _unique_programs(self.channels)
        return self


class DeviceUpdate(SQLModel):
    # Omitted: unchanged. `channels` replaces the whole pairing, in channel order.
    site_id: int = Field(default=None, ge=1, le=MAX_ID)
    mode: Mode = Field(default=None)
    channels: list[ChannelPairing] = Field(default=None, max_length=MAX_CHANNELS)

    @model_validator(mode="after")
    def _consistent(self):
        _unique_programs(self.channels)
        return self


class DevicePublic(SQLModel):
    id: str
    site_id: int | None
    mode: str
    channels: list[ChannelPublic]
    status: str  # online, offline, lost, or unknown (never heard from)
    status_at: datetime | None
    last_seen: datetime | None
    boot: int | None
    firmware: str | None
    rssi: int | None  # dBm
    free_heap: int | None  # bytes
    queue: int | None  # commits waiting on the device
    config_version: int  # the newest config for it
    published_config_version: int | None  # the newest the ingestor has sent
    applied_config_version: int | None  # what the device reports it runs
    has_credentials: bool
    target_firmware: str | None = None  # the release rolled out to it (docs/operations.md)
    update_version: str | None = None  # the newest update report: its version,
    update_state: str | None = None  # state (downloading ... done, rolled_back, failed)
    update_reason: str | None = None  # and why, when it failed or rolled back
    update_at: datetime | None = None


class DeviceList(BaseModel):
    items: list[DevicePublic]


class DeviceCredentials(BaseModel):
    """Shown once: the server keeps only a hash. The device uses its id as the user name."""

    device_id: str
    secret: str


# ----------------------------------------------------------------------------- firmware

FIRMWARE_VERSION = r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$"  # server/firmware.py VERSION
UpdateState = Literal["downloading", "staged", "trial", "done", "rolled_back", "failed"]


class FirmwareFilePublic(BaseModel):
    path: str  # board/... or dialcore/...
    size: int  # bytes
    sha256: str  # hex


class ReleasePublic(BaseModel):
    version: str
    created_at: datetime
    size: int  # bytes of all its files
    files: list[FirmwareFilePublic]


class DeviceFirmware(BaseModel):
    """A dial's firmware: what it runs, what it was told to run, how its update goes."""

    id: str
    status: str
    firmware: str | None  # the version it says it runs (`fw`; "+safe": in safe mode)
    target_firmware: str | None  # the release rolled out to it; null: none
    update_version: str | None  # its newest update report: which version,
    update_state: UpdateState | None  # how far it got,
    update_reason: str | None  # and why it failed or rolled back
    update_at: datetime | None  # when that report came


class FirmwareOverview(BaseModel):
    releases: list[ReleasePublic]  # newest first
    devices: list[DeviceFirmware]


class RolloutCreate(SQLModel):
    """Roll a release out to the listed dials, or to a percentage of the fleet chosen by
    device id (stable: raising it later only adds dials)."""

    version: str = Field(schema_extra={"pattern": FIRMWARE_VERSION})
    devices: list[Annotated[str, StringConstraints(pattern=DEVICE_ID)]] | None = Field(
        default=None, min_length=1, max_length=10_000
    )
    percent: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.devices is None) == (self.percent is None):
            raise ValueError("give either devices or percent")
        return self


class Rollout(BaseModel):
    version: str
    devices: list[str]  # the dials this call chose (each gets the order)


class RolloutStopped(BaseModel):
    version: str
    withdrawn: list[str]  # dials that had not finished: their order is withdrawn
    running: list[str]  # dials already running the version: they stay on it


# ----------------------------------------------------------------------------- holds


class HoldCreate(SQLModel):
    # Omitted: the program's hold time, else SIGNAL_HOLD_DEFAULT_MINUTES
    minutes: int | None = Field(default=None, ge=1, le=MAX_HOLD_MINUTES)
    note: str | None = Field(default=None, min_length=1, max_length=MAX_HOLD_NOTE)


class HoldPublic(BaseModel):
    id: int
    program_id: int
    program_name: str
    site_id: int
    code: str  # read out to the desk
    note: str | None  # only to the key that placed it, and the desk; null to anyone else
    state: HoldState
    placed_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    mine: bool  # placed with the key that asks


class HoldList(BaseModel):
    items: list[HoldPublic]


# ----------------------------------------------------------------------------- turn-aways


class TurnAwaySector(BaseModel):
    sector: Sector
    reason: str  # firmware/dialcore/protocol.py TURN_AWAY_REASONS
    people: int


class TurnAwayNight(BaseModel):
    night: date  # from noon on this date to noon the next, in the city's time zone
    people: int  # turned away that night, city-wide
    by_reason: dict[str, int]  # every reason, 0 when none
    by_sector: list[TurnAwaySector] | None  # city and admin only; null for everyone else


class TurnAways(BaseModel):
    start: date
    end: date
    nights: list[TurnAwayNight]


# ----------------------------------------------------------------------------- text messages

PHONE = r"^\+[1-9][0-9]{6,14}$"  # E.164, as SMS providers take numbers: +14165550100
MAX_WISH_KM = 50.0  # a city across: farther is no longer "near"
WISH_KM = 5.0  # the map's "near me" wish (map/static/notify.js): a walk or a short bus ride
MAX_SMS_CHARS = 1600  # the longest text providers deliver (ten concatenated segments)


class SmsWishCreate(Text):
    phone: str = Field(schema_extra={"pattern": PHONE}, max_length=16)
    language: Literal["en", "fr"] = "en"
    sectors: list[Sector] = Field(default=[], max_length=len(Sector))  # none: any
    gender: Gender | None = None
    age: int | None = Field(default=None, ge=0, le=MAX_AGE)
    pets_allowed: bool | None = None
    wheelchair_accessible: bool | None = None
    couples_allowed: bool | None = None
    # Where: a point, or a postal code or place located as in an inbound text; neither: anywhere
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    place: str | None = Field(default=None, min_length=1, max_length=100)
    radius_km: float = Field(default=WISH_KM, gt=0, le=MAX_WISH_KM)
    # Omitted: SIGNAL_SMS_WISH_MINUTES, the longest a wish may wait
    minutes: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_where(self):
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together")
        if self.lat is not None and self.place is not None:
            raise ValueError("give either lat and lon or place, not both")
        return self


class SmsWishPublic(BaseModel):
    id: str  # to end it: DELETE /sms/wishes/{id}
    expires_at: datetime
    # The point distances are measured from (from `place`, when given); null: anywhere
    lat: float | None
    lon: float | None
    radius_km: float | None


class SmsInbound(Text):
    from_: str = Field(alias="from", min_length=1, max_length=32)  # the sender, as given
    text: str = Field(max_length=MAX_SMS_CHARS)


class SmsMessage(BaseModel):
    """A text to send: the body POSTed to SIGNAL_SMS_WEBHOOK_URL, and the inbound answer."""

    kind: Literal["bed_opened", "reply"]
    to: str
    text: str
    language: Literal["en", "fr"]


# ----------------------------------------------------------------------------- API keys


class ApiKeyCreate(Text):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["outreach", "city", "admin"]


class ApiKeyPublic(SQLModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyPublic]


class ApiKeyIssued(ApiKeyPublic):
    key: str  # shown once: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`


# ----------------------------------------------------------------------------- errors


class ErrorBody(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    error: ErrorBody
