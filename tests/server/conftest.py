"""A migrated SQLite database with one site, one program and one paired device."""

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from server.db import make_engine, migrate
from server.models import Device, DeviceChannel, Program, Sector, Site


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Path:
    """One migrated database file; each test gets a copy (migrating takes a while)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def engine(tmp_path, migrated):
    shutil.copyfile(migrated, tmp_path / "test.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


@pytest.fixture
def site(session):
    """Site 'Maple House' with a 20-bed men's program on channel 0 of device dial-01."""
    site = Site(name="Maple House", address="1 King St", lat=43.65, lon=-79.38)
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Men's beds", sector=Sector.men, capacity=20)
    session.add(program)
    session.add(Device(id="dial-01", site_id=site.id))
    session.flush()
    session.add(DeviceChannel(device_id="dial-01", channel=0, program_id=program.id, label="Men"))
    session.commit()
    return site
