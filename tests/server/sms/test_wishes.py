"""Wishes below the API (server/sms/wishes.py): a text the webhook refused is tried again,
a wish ends at its time, and a count that aged out of date and came back counts as a bed
that opened. The API's tests cover making, matching and ending wishes."""

import itertools
import time
from datetime import timedelta

import pytest
from sqlmodel import Session

from server.ingest.handler import make_current
from server.models import Program, Reading, Sector, Site, utcnow
from server.queries import Filters
from server.settings import Settings
from server.sms import wishes
from server.sms.numbers import Numbers
from server.sms.wishes import Wishes
from tests.support.sms_receiver import Receiver

NUMBER = "+14165550199"
SEQS = itertools.count(1)


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def _settings(receiver: Receiver, **fields) -> Settings:
    return Settings(_env_file=None, sms_webhook_url=receiver.url, **fields)


def _program(session: Session) -> int:
    site = Site(name="Birch House", lat=43.65, lon=-79.38, phone="416-555-0130")
    session.add(site)
    session.flush()
    program = Program(site_id=site.id, name="Birch beds", sector=Sector.men, capacity=10)
    session.add(program)
    session.commit()
    return program.id


def _count(session: Session, program_id: int, occupied: int, ago=timedelta()) -> None:
    reading = Reading(
        program_id=program_id, boot=1, seq=next(SEQS), channel=0, occupied=occupied,
        capacity=10, source="import", received_at=utcnow() - ago,
    )  # fmt: skip
    session.add(reading)
    session.flush()
    make_current(session, reading)
    session.commit()


def _wish(kept: Wishes, session: Session) -> wishes.Wish:
    return kept.add(session, 1, NUMBER, "en", Filters(has_space=True, accepting=True), 60)


def test_a_text_the_webhook_refused_is_tried_again(engine, session, receiver, monkeypatch):
    monkeypatch.setattr(wishes, "RETRY_S", 0)  # at the next look
    kept = Wishes(_settings(receiver), Numbers())
    program = _program(session)
    _count(session, program, 10)
    _wish(kept, session)
    _count(session, program, 9)
    receiver.status = 500
    kept.run(engine)
    assert [r["body"]["to"] for r in receiver.received] == [NUMBER]  # refused: still waiting
    receiver.status = 200
    kept.run(engine)
    kept.run(engine)  # taken: the wish has ended
    assert len(receiver.received) == 2
    assert receiver.received[1]["body"]["text"] == (
        "Bed open: 1 free at Birch House (Birch beds, men), counted 0 min ago. Call 416-555-0130."
    )


def test_a_wish_ends_at_its_time(engine, session, receiver):
    kept = Wishes(_settings(receiver), Numbers())
    program = _program(session)
    _count(session, program, 10)
    _wish(kept, session).expires_at = utcnow()
    _count(session, program, 9)
    kept.run(engine)
    assert receiver.received == []
    assert not kept.end(_wish(kept, session).id, 2)  # another key's wish is not ended


def test_a_count_that_went_out_of_date_and_came_back_is_a_bed_that_opened(
    engine, session, receiver
):
    kept = Wishes(_settings(receiver, fresh_minutes=1, stale_minutes=1), Numbers())
    program = _program(session)
    _count(session, program, 9, ago=timedelta(seconds=59))  # 1 free, a minute old soon
    _wish(kept, session)  # free as the wish is made: not news
    stale_at = utcnow() + timedelta(seconds=2)  # past the minute, with time to spare
    time.sleep((stale_at - utcnow()).total_seconds())
    kept.run(engine)  # nothing was committed; the count is stale now, so no free place
    assert receiver.received == []
    _count(session, program, 9)  # the same 1 free, counted again: it opened
    kept.run(engine)
    assert [r["body"]["to"] for r in receiver.received] == [NUMBER]
