"""The shared availability query: the formula, distances, and what each role gets."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from firmware.dialcore import protocol
from server.ingest.handler import handle
from server.models import Device, Program, Role, Sector, Site, utcnow
from server.queries import (
    EARTH_RADIUS_KM,
    Filters,
    available,
    changed_since,
    data_version,
    distance_km,
    freshness_changes_at,
    sites,
    summary,
)
from server.settings import Settings
from tests.server.conftest import add_maple_house

SETTINGS = Settings(_env_file=None)


@pytest.mark.parametrize(
    ("capacity", "occupied", "out_of_service", "expected"),
    [(20, 12, 0, 8), (10, 5, 2, 3), (10, 8, 2, 0), (10, 9, 2, 0), (10, 10, 0, 0)],
)
def test_available_is_capacity_less_occupied_and_out_of_service_never_negative(
    capacity, occupied, out_of_service, expected
):
    assert available(capacity, occupied, out_of_service) == expected


def test_distance_is_along_the_great_circle():
    # a degree of latitude along a meridian is 1/360 of the circumference
    assert distance_km((43.0, -79.0), (44.0, -79.0)) == pytest.approx(
        2 * math.pi * EARTH_RADIUS_KM / 360
    )
    # antipodes are half the circumference apart, whichever way round
    assert distance_km((10.0, 20.0), (-10.0, -160.0)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert distance_km((43.65, -79.38), (43.65, -79.38)) == 0


@pytest.fixture
def hidden(session, site):
    """A confidential site with a women's program, next to Maple House."""
    hidden = Site(name="Safe Harbour", address="9 Quiet Lane", lat=43.66, lon=-79.39)
    hidden.confidential = True
    session.add(hidden)
    session.flush()
    session.add(Program(site_id=hidden.id, name="Women", sector=Sector.women, capacity=10))
    session.commit()
    return hidden


def test_the_default_is_what_the_public_sees(session, site, hidden):
    # the event stream and the public exports call sites() without a role
    assert [s.name for s in sites(session, SETTINGS)] == ["Maple House"]
    assert sites(session, SETTINGS, {hidden.id}) == []
    assert [s.name for s in sites(session, SETTINGS, {site.id})] == ["Maple House"]


def test_outreach_gets_confidential_sites_without_their_place(session, site, hidden):
    [found] = sites(session, SETTINGS, {hidden.id}, Role.outreach)
    assert (found.address, found.lat, found.lon, found.capacity) == (None, None, None, 10)
    [found] = sites(session, SETTINGS, {hidden.id}, Role.city)
    assert (found.address, found.lat, found.lon) == ("9 Quiet Lane", 43.66, -79.39)
    near = Filters(near=(43.66, -79.39))
    assert [s.name for s in sites(session, SETTINGS, role=Role.outreach, filters=near)] == [
        "Maple House"
    ]


def test_the_summary_counts_every_site(session, site, hidden):
    totals = summary(session, SETTINGS).total
    assert (totals.programs, totals.programs_reporting) == (2, 0)


def test_freshness_changes_at_the_end_of_each_band():
    read = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    fresh_end = read + timedelta(minutes=SETTINGS.fresh_minutes)
    stale_from = read + timedelta(minutes=SETTINGS.stale_minutes)
    assert freshness_changes_at(read, read, SETTINGS) == fresh_end
    assert freshness_changes_at(read, fresh_end, SETTINGS) == fresh_end  # still fresh then
    assert freshness_changes_at(read, fresh_end + timedelta(seconds=1), SETTINGS) == stale_from
    assert freshness_changes_at(read, stale_from + timedelta(days=9), SETTINGS).year == 9999


def test_the_data_version_changes_with_everything_the_sites_show(session, site):
    seen = [data_version(session)]

    def changed() -> bool:
        seen.append(data_version(session))
        return seen[-1] != seen[-2]

    assert not changed()  # reading it changes nothing
    state = protocol.encode_state(1, 1, "occupied", 1, [(3, 20)])
    handle(session, protocol.topic("dial-01", "state"), state, 4096)
    session.commit()
    assert changed()  # a new current state (and the dial coming online)
    device = session.get(Device, "dial-01")
    device.status = "lost"  # even when a writer forgets status_at
    session.add(device)
    session.commit()
    assert changed()
    site.edited_at = utcnow()  # an admin edit of the site, its programs or its dials
    session.add(site)
    session.commit()
    assert changed()
    site.confidential = True  # even when a writer forgets edited_at: no place may leak
    session.add(site)
    session.commit()
    assert changed()
    session.add(Program(site_id=site.id, name="Women", sector=Sector.women, capacity=5))
    session.commit()
    assert changed()


def test_changed_since_names_the_sites_a_count_a_dial_or_an_edit_changed(engine_each_database):
    with Session(engine_each_database) as session:
        site = add_maple_house(session)
        other = Site(name="Willow Place")
        session.add(other)
        session.commit()
        start = utcnow()
        assert changed_since(session, start) == set()
        state = protocol.encode_state(1, 1, "occupied", 1, [(3, 20)])
        handle(session, protocol.topic("dial-01", "state"), state, 4096)  # a count, online
        session.commit()
        assert changed_since(session, start) == {site.id}
        counted = utcnow()
        device = session.get(Device, "dial-01")
        device.status, device.status_at = "lost", utcnow()  # the dial went away
        session.add(device)
        session.commit()
        assert changed_since(session, counted) == {site.id}
        lost = utcnow()
        other.edited_at = utcnow()  # an edit (admins, holds, alerts mark sites so)
        session.add(other)
        session.commit()
        assert changed_since(session, lost) == {other.id}
        assert changed_since(session, start) == {site.id, other.id}
        assert changed_since(session, utcnow()) == set()
