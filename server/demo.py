"""Invented shelters for the demo. Not real places: names are made up and points are
scattered over Toronto's land area, so nobody mistakes the demo for live data."""

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, select

from server.credentials import hash_secret
from server.intake import parse_hours
from server.models import (
    CapacityType,
    Device,
    DeviceChannel,
    Gender,
    Program,
    Reading,
    Sector,
    Site,
    utcnow,
)

NAMES = [
    "Maple",
    "Harbour",
    "Cedar",
    "Beacon",
    "Riverside",
    "Lantern",
    "Juniper",
    "Birch",
    "Northgate",
    "Willow",
    "Ashbridge",
    "Fernwood",
    "Kestrel",
    "Larkspur",
    "Oakridge",
    "Hollis",
    "Bramble",
    "Sterling",
    "Ivy",
    "Garnet",
]
KINDS = ["House", "Centre", "Place", "Shelter", "Residence", "Haven", "Commons"]
STREETS = [
    "Queen St E",
    "Dundas St W",
    "Bloor St W",
    "College St",
    "Jarvis St",
    "Sherbourne St",
    "Spadina Ave",
    "Danforth Ave",
    "Eglinton Ave W",
    "Finch Ave E",
]
SECTORS = [
    (Sector.men, "Men's beds"),
    (Sector.women, "Women's beds"),
    (Sector.youth, "Youth beds"),
    (Sector.mixed, "Mixed adult beds"),
    (Sector.families, "Family rooms"),
]
# Inland Toronto, north of the lake shore: every random point lands on the map's land.
LAT, LON = (43.665, 43.78), (-79.55, -79.22)
ONLY = {frozenset({Sector.men}): Gender.men, frozenset({Sector.women}): Gender.women}
INTAKE_HOURS = ["24/7", "Daily 08:00-23:00", "Mon-Fri 09:00-17:00"]
INTAKE_INSTRUCTIONS = [
    "Walk in to the front desk; bring nothing but yourself.",
    "Call the intake line first to check for a bed.",
    "By referral: outreach workers call the intake line.",
]


# The demo's web dial and its secret: printed by `run`, fine for invented shelters only.
WEB_DIAL = "web-demo"
WEB_DIAL_SECRET = "demo-secret"


def seed(session: Session, sites: int, rng: random.Random) -> list[str]:
    """Create the demo sites, programs and paired devices once, plus one site counted with
    the web dial (WEB_DIAL); return the ids of the hardware dials to simulate."""
    if session.exec(select(Site)).first() is None:
        for number in range(1, sites + 1):
            _site(session, number, rng, Device(id=f"demo-{number:02d}"))
        web = Device(id=WEB_DIAL, secret_hash=hash_secret(WEB_DIAL_SECRET))
        _site(session, sites + 1, rng, web)
        past_week(session, rng)
        session.commit()
    return list(session.exec(select(Device.id).where(Device.id.startswith("demo-"))))


PAST = timedelta(days=7)  # a newcomer's city page shows a week of charts, not empty axes
PAST_STEP = timedelta(hours=3)  # a desk confirms its count about every three hours
# Nights are fuller: occupancy (a share of capacity) by local hour of the day, roughly as
# shelters report it (most arrive from 18:00; many leave after breakfast).
NIGHT, DAY = 0.92, 0.7
NIGHT_FROM, NIGHT_TO = 18, 8
DEMO_ZONE = ZoneInfo("America/Toronto")  # the invented shelters are in Toronto


def past_week(session: Session, rng: random.Random) -> None:
    """A plausible past week of counts for every program, as imported history (no dial, no
    current state: the simulated dials count from now on)."""
    now = utcnow()
    rows = []
    for program in session.exec(select(Program)):
        start = now - PAST
        for seq in range(1, PAST // PAST_STEP + 1):
            at = start + seq * PAST_STEP - timedelta(minutes=rng.randint(0, 40))
            hour = at.astimezone(DEMO_ZONE).hour
            night = hour >= NIGHT_FROM or hour < NIGHT_TO
            share = (NIGHT if night else DAY) + rng.uniform(-0.1, 0.08)
            usable = program.capacity - program.out_of_service
            rows.append(
                dict(
                    program_id=program.id,
                    device_id=None,
                    boot=0,
                    seq=seq,
                    channel=0,
                    occupied=max(0, min(usable, round(usable * share))),
                    capacity=program.capacity,
                    out_of_service=program.out_of_service,
                    source="import",
                    received_at=at,
                )
            )
    if rows:
        session.execute(insert(Reading), rows)


def _site(session: Session, number: int, rng: random.Random, device: Device) -> None:
    name = f"{NAMES[(number - 1) % len(NAMES)]} {rng.choice(KINDS)}"
    programs = rng.sample(SECTORS, rng.choice((1, 1, 2)))
    sectors = {sector for sector, _label in programs}
    site = Site(
        name=name,
        address=f"{rng.randint(10, 2000)} {rng.choice(STREETS)}",
        city="Toronto",
        lat=round(rng.uniform(*LAT), 5),
        lon=round(rng.uniform(*LON), 5),
        phone=f"416-555-{rng.randint(100, 199):04d}",  # 555-01xx: reserved for fiction
        organization="Demo Shelter Network",
        intake_hours=rng.choice(INTAKE_HOURS),
        intake_instructions=rng.choice(INTAKE_INSTRUCTIONS),
        pets_allowed=rng.random() < 0.3,
        wheelchair_accessible=rng.random() < 0.6,
        couples_allowed=bool(sectors & {Sector.mixed, Sector.families}) and rng.random() < 0.5,
        gender_served=ONLY.get(frozenset(sectors), Gender.any),
        # youth shelters take 16 to 24; family shelters take children; the rest adults
        min_age=None if Sector.families in sectors else 16 if Sector.youth in sectors else 18,
        max_age=24 if sectors == {Sector.youth} else None,
        confidential=number % 10 == 0,  # every tenth one: shows the privacy rule at work
    )
    session.add(site)
    session.flush()
    device.site_id = site.id
    session.add(device)
    for channel, (sector, label) in enumerate(programs):
        kind = CapacityType.rooms if sector == Sector.families else CapacityType.beds
        program = Program(
            site_id=site.id,
            name=f"{name} {label}",
            sector=sector,
            capacity_type=kind,
            capacity=rng.choice((10, 15, 20, 24, 30, 40, 60)),
            out_of_service=rng.choice((0, 0, 0, 1, 2)),  # now and then a bed under repair
            intake_schedule=parse_hours(site.intake_hours),
        )
        session.add(program)
        session.flush()
        session.add(
            DeviceChannel(device_id=device.id, channel=channel, program_id=program.id, label=label)
        )
