"""An API app on the migrated test database, a key per role, and a small invented city."""

import itertools
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from server.ingest.handler import make_current
from server.models import (
    Gender,
    Program,
    Reading,
    Sector,
    Site,
    utcnow,
)
from server.settings import Settings

ADMIN_KEY = "bootstrap-admin-key-for-tests"
BIG_BURST = 10_000  # no test but the rate-limit ones may run into the public limit


@pytest.fixture
def settings():
    return Settings(
        _env_file=None,
        fresh_minutes=30,
        stale_minutes=180,
        admin_api_key=ADMIN_KEY,
        public_rate_burst=BIG_BURST,
    )


class Headers(dict):
    """Request headers per role; a role's key is issued when a test first asks for it (each
    key costs two slow hashes: one to store it, one to check it the first time)."""

    def __init__(self, client: TestClient):
        super().__init__(public={}, bootstrap={"Authorization": f"Bearer {ADMIN_KEY}"})
        self.client = client

    def __missing__(self, role: str) -> dict:
        issued = self.client.post(
            "/api/v1/api-keys",
            json={"name": f"test {role}", "role": role},
            headers=self["bootstrap"],
        )
        assert issued.status_code == 201, issued.text
        self[role] = {"Authorization": f"Bearer {issued.json()['key']}"}
        return self[role]


@pytest.fixture
def headers(client):
    """headers["public" | "outreach" | "city" | "admin" | "bootstrap"]: a key of that role."""
    return Headers(client)


@pytest.fixture
def count(session):
    """count(program_id, occupied, capacity=None, at=None, out_of_service=0): a reading made
    current, as the ingestor stores one (capacity: the program's)."""
    seqs = itertools.count(1)

    def record(
        program_id: int,
        occupied: int,
        capacity: int | None = None,
        at: datetime | None = None,
        out_of_service: int = 0,
    ) -> Reading:
        program = session.get(Program, program_id)
        reading = Reading(
            program_id=program_id,
            boot=1,
            seq=next(seqs),
            channel=0,
            occupied=occupied,
            capacity=program.capacity if capacity is None else capacity,
            out_of_service=out_of_service,
            source="import",
            received_at=at or utcnow(),
        )
        session.add(reading)
        session.flush()
        make_current(session, reading)  # the newest (boot, seq) so far: always current
        session.commit()
        return reading

    return record


def _add(session, site: Site, *programs: Program) -> dict:
    session.add(site)
    session.flush()
    for program in programs:
        program.site_id = site.id
        session.add(program)
    session.commit()
    return {"site": site.id, **{p.sector.value: p.id for p in programs}}


@pytest.fixture
def city(session, site, count):
    """Five sites around downtown Toronto, with counts; ids by name (and sector)."""
    maple_men = session.exec(select(Program).where(Program.site_id == site.id)).one()
    count(maple_men.id, 12)  # 8 of 20 free
    willow = _add(
        session,
        Site(
            name="Willow Place",
            address="20 Bloor St W",
            lat=43.70,
            lon=-79.40,
            phone="416-555-0120",
            pets_allowed=True,
            wheelchair_accessible=True,
            couples_allowed=True,
            gender_served=Gender.any,
            min_age=18,
        ),
        Program(name="Willow women", sector=Sector.women, capacity=10, out_of_service=2),
        Program(name="Willow mixed", sector=Sector.mixed, capacity=8),
    )
    count(willow["women"], 8)  # 10 - 8 - 2 out of service: none free
    count(willow["mixed"], 5)  # 3 free
    youth = _add(
        session,
        Site(
            name="youth haven",
            lat=43.66,
            lon=-79.39,
            gender_served=Gender.any,
            min_age=16,
            max_age=24,
            wheelchair_accessible=False,
        ),
        Program(name="Youth beds", sector=Sector.youth, capacity=12, accepting=False),
    )
    count(youth["youth"], 2)  # 10 free, but not accepting
    hidden = _add(
        session,
        Site(
            name="Safe Harbour",
            address="99 Hidden Rd",
            city="Toronto",
            postal_code="M5V 1A1",
            lat=43.6501,
            lon=-79.3801,
            phone="416-555-0150",
            gender_served=Gender.women,
            confidential=True,
        ),
        Program(name="Harbour women", sector=Sector.women, capacity=10),
    )
    count(hidden["women"], 4)  # 6 free
    unplaced = _add(
        session,
        Site(name="Unplaced Centre", gender_served=Gender.men),
        Program(name="Unplaced men", sector=Sector.men, capacity=5),
    )
    return {
        "Maple House": {"site": site.id, "men": maple_men.id},
        "Willow Place": willow,
        "youth haven": youth,
        "Safe Harbour": hidden,
        "Unplaced Centre": unplaced,
    }
