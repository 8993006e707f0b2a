"""A migrated database (SQLite; or each of SQLite and PostgreSQL) with one site, one program
and one paired device; the API app and the `shelter-signal` command on it."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from firmware.dialcore import protocol
from server import firmware
from server.api.main import create_app
from server.db import make_engine, migrate
from server.models import Device, DeviceChannel, Program, Sector, Site
from server.settings import Settings
from tests.support.waiting import scaled


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


@pytest.fixture(params=["sqlite", "postgres"])
def engine_each_database(request, tmp_path):
    """A migrated database of its own: the test runs once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'each.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database(f"each_{uuid.uuid4().hex[:12]}")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings():
    """The defaults, whatever SIGNAL_* or .env the machine has."""
    return Settings(_env_file=None)


@pytest.fixture
def client(engine, settings):
    with TestClient(create_app(settings, engine)) as client:
        yield client


@pytest.fixture
def database_url(engine) -> str:
    """The `engine` fixture's database, as SIGNAL_DATABASE_URL names it."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def command(database_url):
    """command(*args): `shelter-signal ARGS` run as an operator runs it, in a process of its
    own, on the `engine` fixture's database."""
    env = {**os.environ, "SIGNAL_DATABASE_URL": database_url}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "server", *args],
            capture_output=True,
            text=True,
            timeout=scaled(60),
            env=env,
        )

    return run


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


@pytest.fixture
def site(session):
    """Site 'Maple House' with a 20-bed men's program on channel 0 of device dial-01."""
    return add_maple_house(session)


def add_maple_house(session) -> Site:
    """The `site` fixture's site, program and paired dial, committed in `session`."""
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


RELEASE = "0.2.0"


@pytest.fixture
def release_files() -> dict[str, bytes]:
    """The files of a small firmware release 0.2.0: one of several chunks and a short last
    one, one exactly two chunks long, and an empty one."""
    chunk = protocol.CHUNK
    return {
        "board/big.py": bytes(range(256)) * (5 * chunk // 2 // 256) + b"# end\n",
        "dialcore/__init__.py": f'FIRMWARE_VERSION = "{RELEASE}"\n'.encode(),
        "dialcore/exact.py": b"#" * (2 * chunk),
        "dialcore/empty.py": b"",
    }


@pytest.fixture
def release(session, release_files) -> str:
    """Release 0.2.0 (release_files) stored; its version."""
    firmware.store_release(session, RELEASE, list(release_files.items()))
    session.commit()
    return RELEASE
