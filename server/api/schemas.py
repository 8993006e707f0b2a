"""What the API returns: explicit public shapes, separate from the tables."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from server.models import CapacityType, Sector

Freshness = Literal["fresh", "aging", "stale", "unknown"]


class ProgramPublic(BaseModel):
    id: int
    name: str
    sector: Sector
    capacity_type: CapacityType
    capacity: int
    occupied: int | None  # null until the first reading
    available: int | None
    accepting: bool
    updated_at: datetime | None
    freshness: Freshness


class SitePublic(BaseModel):
    id: int
    name: str
    address: str | None
    lat: float | None
    lon: float | None
    phone: str | None
    capacity: int
    occupied: int | None
    available: int | None
    updated_at: datetime | None
    freshness: Freshness
    programs: list[ProgramPublic]


class SiteList(BaseModel):
    items: list[SitePublic]
    updated_at: datetime | None  # newest reading among the items


class ErrorBody(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    error: ErrorBody
