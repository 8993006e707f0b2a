"""Invented shelters for the demo. Not real places: names are made up and points are
scattered over Toronto's land area, so nobody mistakes the demo for live data."""

import random

from sqlmodel import Session, select

from server.models import CapacityType, Device, DeviceChannel, Program, Sector, Site

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


def seed(session: Session, sites: int, rng: random.Random) -> list[str]:
    """Create the demo sites, programs and paired devices once; return the device ids."""
    if session.exec(select(Site)).first() is None:
        for number in range(1, sites + 1):
            _site(session, number, rng)
        session.commit()
    return list(session.exec(select(Device.id).where(Device.id.startswith("demo-"))))


def _site(session: Session, number: int, rng: random.Random) -> None:
    name = f"{NAMES[(number - 1) % len(NAMES)]} {rng.choice(KINDS)}"
    site = Site(
        name=name,
        address=f"{rng.randint(10, 2000)} {rng.choice(STREETS)}",
        city="Toronto",
        lat=round(rng.uniform(*LAT), 5),
        lon=round(rng.uniform(*LON), 5),
        phone=f"416-555-{rng.randint(100, 199):04d}",  # 555-01xx: reserved for fiction
        organization="Demo Shelter Network",
        confidential=number % 10 == 0,  # every tenth one: shows the privacy rule at work
    )
    session.add(site)
    session.flush()
    device = Device(id=f"demo-{number:02d}", site_id=site.id)
    session.add(device)
    for channel, (sector, label) in enumerate(rng.sample(SECTORS, rng.choice((1, 1, 2)))):
        kind = CapacityType.rooms if sector == Sector.families else CapacityType.beds
        program = Program(
            site_id=site.id,
            name=f"{name} {label}",
            sector=sector,
            capacity_type=kind,
            capacity=rng.choice((10, 15, 20, 24, 30, 40, 60)),
        )
        session.add(program)
        session.flush()
        session.add(
            DeviceChannel(device_id=device.id, channel=channel, program_id=program.id, label=label)
        )
