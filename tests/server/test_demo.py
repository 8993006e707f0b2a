"""The demo's invented city comes with a plausible past week, so its city page has charts."""

import random
from datetime import timedelta

from sqlmodel import Session, SQLModel, create_engine, func, select

from server.demo import seed
from server.models import Program, Reading, utcnow


def test_the_demo_city_carries_a_past_week_of_counts(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session, 12, random.Random(7))
        programs = session.exec(select(Program)).all()
        for program in programs:
            first, last, n = session.exec(
                select(
                    func.min(Reading.received_at), func.max(Reading.received_at), func.count()
                ).where(Reading.program_id == program.id)
            ).one()
            assert n >= 50  # every three hours or so
            assert last - first > timedelta(days=6)
        readings = session.exec(select(Reading)).all()
        capacity = {p.id: p.capacity - p.out_of_service for p in programs}
        assert all(0 <= r.occupied <= capacity[r.program_id] for r in readings)
        assert max(r.received_at for r in readings) <= utcnow()
        nightly = {r.occupied / capacity[r.program_id] > 0.8 for r in readings}
        assert nightly == {True, False}  # the counts move: fuller at night than by day
