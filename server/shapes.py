"""The shapes of what the server reads out: availability (sites, programs, the summary, a
catch-up) and history. The API returns them, and the layers below it build them (queries,
history, exports, text messages), so they live here, below both: those layers never import
from server/api/ (server/api/schemas.py keeps what only the API takes and gives).
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from server.models import ProgramBase, Sector, SiteBase

Freshness = Literal["fresh", "aging", "stale", "unknown"]
Interval = Literal["raw", "hour", "day"]


# ----------------------------------------------------------------------------- availability


class ProgramPublic(ProgramBase):
    id: int
    site_id: int
    source_id: str | None
    occupied: int | None  # null until the first reading
    held: int  # places held for people on their way (holds), not yet arrived
    available: int | None  # capacity - occupied - held - out_of_service, never below 0
    updated_at: datetime | None
    freshness: Freshness
    # Surge and warming programs (server/alerts.py): closed while no alert of their kind is
    # on or outside their window (the public never sees them then); else open, and for
    # which alert until when
    is_open: bool
    open_for: str | None
    open_until: datetime | None


class SitePublic(SiteBase):
    """A site as the caller's role may see it: location fields are null where hidden."""

    id: int
    source_id: str | None
    capacity: int
    occupied: int | None
    held: int
    available: int | None
    updated_at: datetime | None
    freshness: Freshness
    distance_km: float | None = None  # only when the list was asked for `near` a point
    programs: list[ProgramPublic]


class SiteList(BaseModel):
    items: list[SitePublic]
    updated_at: datetime | None  # newest reading among the items
    total: int  # how many match: more than the items when `limit` cut the list short


class SiteChanges(BaseModel):
    """A page's catch-up (GET /shelters/changes): what changed since it last looked."""

    items: list[SitePublic]  # the changed sites the caller sees, as the list shows them
    gone: list[int]  # ids of changed sites the caller no longer sees: take them off
    until: datetime  # send this as `since` next time (a margin back from now: see the route)


class SiteGroup(BaseModel):
    """Shelters whose markers would overlap at the asked zoom, as one marker."""

    lat: float  # where its marker stands: its first shelter's place
    lon: float
    sites: int
    free: int | None  # free places by fresh and aging counts; null when none has such a count
    unknown: int  # its shelters without a fresh or aging count
    bounds: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat of them


class SiteGroups(BaseModel):
    """The markers of a map view (GET /shelters/groups): groups, and the shelters with a
    marker of their own. Never a confidential shelter, whatever the key."""

    zoom: float  # the zoom they are grouped for (the one that fits them all, if not asked)
    # min_lon, min_lat, max_lon, max_lat of every shelter on the map (not only these): the
    # view that fits them all; null when none has a public place
    bounds: tuple[float, float, float, float] | None
    groups: list[SiteGroup]
    items: list[SitePublic]  # the shelters on their own, as the list shows them
    updated_at: datetime | None  # newest reading among the list's items


class FreshnessCounts(BaseModel):
    fresh: int = 0
    aging: int = 0
    stale: int = 0
    unknown: int = 0


class SectorSummary(BaseModel):
    """Programs with a reading count in capacity .. available; the rest only in `programs`.
    `available_current` adds up only the programs whose count is fresh or aging
    (`programs_current` of them): a stale count is no promise of a bed."""

    sector: Sector | None  # null in the city-wide total
    programs: int
    programs_reporting: int
    programs_current: int
    capacity: int
    out_of_service: int
    occupied: int
    held: int
    available: int
    available_current: int
    programs_by_freshness: FreshnessCounts
    updated_at: datetime | None


class Summary(BaseModel):
    sectors: list[SectorSummary]
    total: SectorSummary
    updated_at: datetime | None


# ----------------------------------------------------------------------------- history


class HistoryPoint(BaseModel):
    start: datetime  # the bucket's start (the reading's time for interval=raw)
    readings: int
    occupied_min: int
    occupied_max: int
    occupied_last: int
    capacity: int  # as counted against by the last reading of the bucket
    out_of_service: int
    available: int
    occupancy_rate: float | None  # occupied / (capacity - out_of_service); null if that is 0


class ProgramHistory(BaseModel):
    program: ProgramPublic  # the program as it is now
    points: list[HistoryPoint]


class History(BaseModel):
    interval: Interval
    start: datetime
    end: datetime
    series: list[ProgramHistory]
    updated_at: datetime | None  # newest reading in the range


class SectorPoint(BaseModel):
    """The sector's numbers at the end of a bucket: each program's last reading so far."""

    start: datetime
    programs_reporting: int
    capacity: int
    out_of_service: int
    occupied: int
    available: int


class SectorHistory(BaseModel):
    sector: Sector
    points: list[SectorPoint]


class SectorsHistory(BaseModel):
    interval: Literal["hour", "day"]
    start: datetime
    end: datetime
    sectors: list[SectorHistory]
    updated_at: datetime | None  # newest reading used
