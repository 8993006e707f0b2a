"""Data for the page tests, written straight into the real database with SQLModel sessions.

`demo_city` is the demo's own invented city (server/demo.py) with counts, so the pages have
fresh, stale, offline and never-counted sites, and history to chart. Counts are stored the way
the ingestor stores them: a Reading row per count and the program's CurrentState pointing at
the newest one.
"""

import random
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.demo import seed
from server.models import CurrentState, Device, DeviceChannel, Program, Reading, Site, utcnow

HISTORY_STEP = timedelta(hours=3)  # a desk confirms its count about every three hours


def record(session: Session, program: Program, counts: list[tuple[datetime, int]]) -> None:
    """Store `counts` ((received at, occupied), oldest first) for `program`, from its paired
    dial if it has one; the last becomes its current state."""
    pairing = session.exec(
        select(DeviceChannel).where(DeviceChannel.program_id == program.id)
    ).first()
    device_id = pairing.device_id if pairing else None
    readings = [
        Reading(
            program_id=program.id,
            device_id=device_id,
            boot=1,
            seq=seq,
            channel=pairing.channel if pairing else 0,
            occupied=occupied,
            capacity=program.capacity,
            source="dial" if device_id else "import",
            received_at=at,
        )
        for seq, (at, occupied) in enumerate(counts, start=1)
    ]
    session.add_all(readings)
    session.flush()
    last = readings[-1]
    session.merge(
        CurrentState(
            program_id=program.id,
            reading_id=last.id,
            device_id=device_id,
            boot=last.boot,
            seq=last.seq,
            occupied=last.occupied,
            capacity=last.capacity,
            updated_at=last.received_at,
        )
    )


def demo_city(
    engine: Engine, sites: int = 100, history: timedelta = timedelta(days=7), rng_seed: int = 2024
) -> dict[str, list[int]]:
    """The demo city (`sites` sites, about a tenth of them confidential) with `history` of
    counts. Returns public site ids by what the map should show: "current" (fresh counts),
    "stale", "offline" (its dial is offline) and "never" (no count yet)."""
    rng = random.Random(rng_seed)
    now = utcnow()
    kinds: dict[str, list[int]] = {"current": [], "stale": [], "offline": [], "never": []}
    with Session(engine) as session:
        seed(session, sites, rng)
        public = session.exec(select(Site).where(Site.confidential == False)).all()  # noqa: E712
        for index, site in enumerate(public):
            # every 9th never counted, every 7th stale, every 11th offline: a few of each
            kind = (
                "never"
                if index % 9 == 4
                else "stale"
                if index % 7 == 3
                else "offline"
                if index % 11 == 5
                else "current"
            )
            kinds[kind].append(site.id)
            last = now - (timedelta(hours=6) if kind == "stale" else timedelta(minutes=4))
            for program in session.exec(select(Program).where(Program.site_id == site.id)):
                program.accepting = program.id % 6 != 0  # now and then intake is paused
                session.add(program)
                if kind == "never":
                    continue
                occupied = round(program.capacity * rng.uniform(0.6, 1.0))
                counts = []
                for step in range(history // HISTORY_STEP, -1, -1):
                    occupied = min(program.capacity, max(0, occupied + rng.randint(-3, 3)))
                    counts.append((last - step * HISTORY_STEP, occupied))
                record(session, program, counts)
            devices = session.exec(select(Device).where(Device.site_id == site.id)).all()
            for device in devices if kind != "never" else []:
                if kind == "offline":
                    device.status, device.status_at = "offline", now
                else:
                    device.status, device.status_at, device.last_seen = "online", now, now
                    device.firmware, device.rssi, device.queue = "1.0.0", -61, 0
                session.add(device)
        session.commit()
    return kinds
