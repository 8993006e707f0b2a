"""A city's counts replayed as readings, one per program per night.

Each record that is a night's count becomes the reading its program would have had at the
city's count (the profile's count_time, the morning after the night, in its time zone):
history, current state and exports then hold the city's own numbers, which is how the
round-trip test checks the Toronto CSV export, and how a new deployment starts with the
city's history.

A replayed reading has source "import" and no device: boot 0 (devices count boots from 1) and
seq = the night's day number (date.toordinal()), so a later night sorts after an earlier one.
Replaying a night again adds nothing.
"""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from server.imports.profile import Profile
from server.ingest.handler import make_current
from server.models import CurrentState, Program, Reading

SOURCE = "import"
BOOT = 0  # no device boots: devices start counting at 1, so 0 can only be an import


def store(session: Session, counts: list, programs: dict[str, Program], profile: Profile, report):
    """A reading per record of `counts` (each with a night and occupied) not replayed before."""
    replayed = set(
        session.exec(
            select(Reading.program_id, Reading.seq).where(
                Reading.source == SOURCE, col(Reading.device_id).is_(None)
            )
        ).all()
    )
    readings = []
    for record in counts:
        if record.occupied is None:
            continue  # a night with no count: nothing to replay
        program = programs[record.program_key]
        seq = record.night.toordinal()
        if (program.id, seq) in replayed:
            report.readings_known += 1
            continue
        replayed.add((program.id, seq))
        actual = record.program["capacity"]
        # Our capacity includes what is out of service, like the city's funding capacity.
        # Where the city has more in service than funded, we keep what is in service.
        capacity = max(record.funding or 0, actual)
        readings.append(
            Reading(
                program_id=program.id,
                device_id=None,
                boot=BOOT,
                seq=seq,
                channel=0,  # no device, so no channel: the first, as for a one-channel dial
                occupied=record.occupied,
                capacity=capacity,
                out_of_service=capacity - actual,
                source=SOURCE,
                received_at=count_time(record.night, profile),
            )
        )
    session.add_all(readings)
    session.flush()  # assigns reading ids, which current states point to
    for reading in sorted(readings, key=lambda r: r.seq):
        make_current(session, reading)
    session.flush()
    # The program's beds out of service are those of its current count: public availability
    # (capacity - occupied - out_of_service) is then the city's own unoccupied figure.
    for reading in readings:
        current = session.get(CurrentState, reading.program_id)
        if current.reading_id == reading.id:
            program = session.get(Program, reading.program_id)
            program.out_of_service = reading.out_of_service
            session.add(program)
    report.readings_added += len(readings)


def count_time(night: date, profile: Profile) -> datetime:
    """When the count of `night` is taken: count_time the next morning, in the city's zone."""
    local = datetime.combine(night + timedelta(days=1), profile.count_time, profile.zone)
    return local.astimezone(UTC)
