"""deploy/backup.sh and deploy/restore.sh against a real PostgreSQL: the restore procedure of
docs/operations.md gives back every row of every table, and a database keeps working after.

The data comes from the real code: the demo's sites, programs and dials, then dial readings
through the ingest handler (current states, history, dead letters).
"""

import os
import random
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server.db import make_engine, migrate
from server.demo import seed
from server.ingest.handler import handle
from server.models import DeviceChannel, Program, Site
from tests.support.waiting import scaled

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MAX_PAYLOAD = 4096  # the default SIGNAL_MAX_PAYLOAD_BYTES


def _script(postgres, name: str, *args: str, database_url: str) -> subprocess.CompletedProcess:
    """Run a deploy script as its systemd unit does: SIGNAL_DATABASE_URL from the environment
    and PostgreSQL's client tools on PATH (Debian keeps them in /usr/lib/postgresql/N/bin)."""
    env = {
        **os.environ,
        "SIGNAL_DATABASE_URL": database_url,
        "PATH": f"{postgres.bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(DEPLOY / name), *args], env=env, capture_output=True, text=True, timeout=scaled(60)
    )


def _seed(url: str) -> None:
    """Demo sites and dials, then two commits from every dial and one bad message."""
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        device_ids = seed(session, 4, random.Random(7))
        for device_id in device_ids:
            pairs = session.exec(
                select(DeviceChannel, Program)
                .join(Program, DeviceChannel.program_id == Program.id)
                .where(DeviceChannel.device_id == device_id)
                .order_by(DeviceChannel.channel)
            ).all()
            for seq, share in ((1, 0.5), (2, 0.75)):
                channels = [(int(p.capacity * share), p.capacity) for _, p in pairs]
                state = protocol.encode_state(1, seq, "occupied", 1, channels)
                outcome = handle(session, protocol.topic(device_id, "state"), state, MAX_PAYLOAD)
                assert outcome.result == "stored", outcome
        handle(session, protocol.topic("nobody-here", "state"), b"{}", MAX_PAYLOAD)  # dead letter
        session.commit()
    engine.dispose()


def _every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, from the database itself (not from the models)."""
    engine = make_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        rows = {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(table.select()))
            for name, table in metadata.tables.items()
        }
    engine.dispose()
    return rows


def test_a_backup_restores_every_row_into_a_fresh_database(postgres, tmp_path):
    original = postgres.new_database("backup_source")
    _seed(original)
    backups = tmp_path / "backups"
    made = _script(postgres, "backup.sh", str(backups), database_url=original)
    assert made.returncode == 0, made.stderr
    [dump] = backups.iterdir()
    assert dump.name.startswith("shelter-signal-") and dump.suffix == ".dump"

    restored = postgres.new_database("backup_restored")
    done = _script(postgres, "restore.sh", str(dump), database_url=restored)
    assert done.returncode == 0, done.stderr

    before, after = _every_row(original), _every_row(restored)
    assert set(after) == set(before) and "alembic_version" in after
    for table in ("site", "program", "device", "reading", "currentstate", "deadletter"):
        assert before[table], f"the seed left {table} empty: the comparison would prove little"
    assert after == before
    # Restored sequences go on where the original stopped: new rows get new ids.
    engine = make_engine(restored)
    with Session(engine) as session:
        site = Site(name="Opened after the restore")
        session.add(site)
        session.commit()
        assert site.id == len(before["site"]) + 1
    engine.dispose()


def test_restore_refuses_a_database_that_has_tables(postgres, tmp_path):
    source = postgres.new_database("backup_busy")
    migrate(source)
    backups = tmp_path / "backups"
    assert _script(postgres, "backup.sh", str(backups), database_url=source).returncode == 0
    [dump] = backups.iterdir()
    refused = _script(postgres, "restore.sh", str(dump), database_url=source)
    assert refused.returncode == 1
    assert "already has" in refused.stderr and "restore into a new, empty one" in refused.stderr


def test_backups_beyond_the_newest_keep_are_deleted(postgres, tmp_path):
    migrate(postgres.new_database("backup_rotation"))
    # Through the server's socket, the form deploy/shelter-signal.env.example uses.
    source = (
        f"postgresql+psycopg://{postgres.user}@/backup_rotation"
        f"?host={postgres.dir}&port={postgres.port}"
    )
    backups = tmp_path / "backups"
    backups.mkdir()
    older = [f"shelter-signal-2026010{day}T031500Z.dump" for day in (1, 2, 3)]
    for name in [*older, "notes.txt"]:
        (backups / name).write_text("an older backup")
    made = _script(postgres, "backup.sh", str(backups), "2", database_url=source)
    assert made.returncode == 0, made.stderr
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3 and "notes.txt" in kept  # only its own dumps are rotated
    assert older[2] in kept and older[0] not in kept and older[1] not in kept


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "usage: backup.sh DIR [KEEP]"), (("DIR", "0"), "KEEP must be a whole number above 0")],
)
def test_backup_explains_a_wrong_call(postgres, tmp_path, args, message):
    wrong = _script(postgres, "backup.sh", *args, database_url=postgres.url)
    assert wrong.returncode != 0 and message in wrong.stderr


def test_backup_refuses_a_database_other_than_postgresql(postgres, tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'signal.db'}"
    wrong = _script(postgres, "backup.sh", str(tmp_path), database_url=sqlite)
    assert wrong.returncode == 2 and "not a PostgreSQL database" in wrong.stderr


def test_a_failed_dump_leaves_no_file_that_looks_finished(postgres, tmp_path):
    missing = postgres.url_for("no_such_database")
    failed = _script(postgres, "backup.sh", str(tmp_path / "backups"), database_url=missing)
    assert failed.returncode != 0 and "no_such_database" in failed.stderr
    assert not list((tmp_path / "backups").glob("shelter-signal-*.dump"))
