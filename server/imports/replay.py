"""The City of Toronto's occupancy CSV replayed as readings, one per program per night.

Each row becomes the reading its program would have had at the city's count (04:00 the
morning after the occupancy date, Toronto time): history, current state and exports then hold
the city's own numbers, which is how the round-trip test checks the Toronto CSV export, and how
a new deployment can start with the city's history.

Run `import_csv` on the file first: rows find their program by PROGRAM_ID. A replayed reading
has source "import" and no device: boot 0 (devices count boots from 1) and seq = the occupancy
date's day number (date.toordinal()), so a later night sorts after an earlier one. Replaying a
night again adds nothing. Rows are checked as the import checks them; bad ones are reported by
line and skipped.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, select

from server.exports.toronto_csv import SUFFIXES, snapshot_time
from server.imports.toronto import CITY_SOURCE, check_row, rows, whole_number
from server.ingest.handler import make_current
from server.models import MAX_CAPACITY, Program, Reading

SOURCE = "import"
BOOT = 0  # no device boots: devices start counting at 1, so 0 can only be an import


@dataclass
class ReplayReport:
    rows: int = 0  # rows read (on the chosen dates)
    added: int = 0  # readings stored
    known: int = 0  # nights of a program replayed before: left as they are
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason): not replayed


def replay_csv(session: Session, path: Path, dates: Collection[date] | None = None) -> ReplayReport:
    """Store a reading per row of `path` (only rows on `dates`, when given) and commit."""
    report = ReplayReport()
    programs = {
        p.source_id: p
        for p in session.exec(select(Program).where(col(Program.source_id).is_not(None)))
    }
    replayed = set(
        session.exec(
            select(Reading.program_id, Reading.seq).where(
                Reading.source == SOURCE, col(Reading.device_id).is_(None)
            )
        ).all()
    )
    readings = []
    for line, row in rows(path, errors=report.errors):
        try:
            night = date.fromisoformat(row["OCCUPANCY_DATE"])
        except ValueError:
            report.errors.append((line, f"OCCUPANCY_DATE {row['OCCUPANCY_DATE']!r} is not a date"))
            continue
        if dates is not None and night not in dates:
            continue
        report.rows += 1
        try:
            reading = _reading(row, night, programs)
        except ValueError as e:
            report.errors.append((line, str(e)))
            continue
        if (reading.program_id, reading.seq) in replayed:
            report.known += 1
            continue
        replayed.add((reading.program_id, reading.seq))
        readings.append(reading)
    session.add_all(readings)
    session.flush()  # assigns reading ids, which current states point to
    for reading in readings:
        make_current(session, reading)
    session.commit()
    report.added = len(readings)
    return report


def _reading(row: dict, night: date, programs: dict[str, Program]) -> Reading:
    checked = check_row(row)  # the import's own checks: ids, counts, sector, capacity type
    program = programs.get(f"{CITY_SOURCE}:{checked['program']}")
    if program is None:
        raise ValueError(f"PROGRAM_ID {checked['program']} is not imported: run import first")
    one, many = SUFFIXES[checked["kind"]]
    actual = checked["capacity"]
    occupied = whole_number(row, f"OCCUPIED_{many}")
    if occupied > actual:
        raise ValueError(f"OCCUPIED_{many} {occupied} is above capacity {actual}")
    # Our capacity includes what is out of service, like the city's funding capacity. Where
    # the city has more in service than funded, we keep what is in service: nothing is out.
    funding = whole_number(row, f"CAPACITY_FUNDING_{one}", required=False) or 0
    capacity = max(funding, actual)
    if capacity > MAX_CAPACITY:  # the public shapes refuse it: it would break every list
        raise ValueError(f"CAPACITY_FUNDING_{one} {funding} is above {MAX_CAPACITY}")
    return Reading(
        program_id=program.id,
        device_id=None,
        boot=BOOT,
        seq=night.toordinal(),
        channel=0,  # no device, so no channel: the first, as for a one-channel dial
        occupied=occupied,
        capacity=capacity,
        out_of_service=capacity - actual,
        source=SOURCE,
        received_at=snapshot_time(night),  # when the city counted
    )
