"""An alert opens a warming centre on the map (on PostgreSQL, as in production), and after
the alert ends and its window closes, the centre leaves the map again, live (the event
stream), with nobody reloading.
(The window's end is moved to now by an admin rather than waited for: windows are whole
minutes; tests/server/test_alerts.py checks that the end of a window alone closes it.)"""

import uuid
from datetime import datetime, timedelta

import httpx
from sqlmodel import Session

from server.auth import issue_key
from server.models import Program, Role, Sector, Site
from tests.map.conftest import DESKTOP, system_settings
from tests.map.seeding import record
from tests.support.stack import Stack
from tests.support.waiting import scaled


def test_an_alert_opens_a_warming_centre_on_the_map_and_its_end_closes_it(
    postgres, mosquitto, tmp_path, open_page
):
    url = postgres.new_database(f"alerts_{uuid.uuid4().hex[:8]}")
    settings = system_settings(tmp_path, mosquitto.url, tiles_url="", database_url=url)
    with Stack(settings) as stack:
        zone = settings.zone
        now = datetime.now(zone)
        with Session(stack.system.engine) as session:
            site = Site(name="Elm Warming Centre", lat=43.65, lon=-79.38)
            session.add(site)
            session.flush()
            program = Program(
                site_id=site.id, name="Cots", sector=Sector.mixed, capacity=30,
                opens_with_alert="cold", window_start=f"{now - timedelta(hours=1):%H:%M}",
                window_end=f"{now + timedelta(hours=1):%H:%M}",
            )  # fmt: skip
            session.add(program)
            session.flush()
            record(session, program, [(datetime.now(zone), 10)])
            _row, city_key = issue_key(session, "alerts map test", Role.city)
            _row, admin_key = issue_key(session, "alerts map test admin", Role.admin)
            session.commit()
            site_id, program_id = site.id, program.id
        page = open_page(stack.http + "/", **DESKTOP)
        page.locator("#ss-list-count").filter(has_text="No shelter").wait_for()  # closed
        city = {"Authorization": f"Bearer {city_key}"}
        started = httpx.post(
            f"{stack.http}/api/v1/alerts",
            json={"kind": "cold", "name": "Extreme Cold Weather Alert"},
            headers=city,
        )
        assert started.status_code == 201, started.text
        entry = page.locator(f'.ss-entry[data-site-id="{site_id}"]')
        entry.wait_for(timeout=scaled(20_000))  # live: no reload
        why = entry.locator(".ss-why").text_content()  # in the folded details
        assert why.startswith("Open for the Extreme Cold Weather Alert until")
        ended = httpx.post(f"{stack.http}/api/v1/alerts/{started.json()['id']}/end", headers=city)
        assert ended.json()["ended_at"] is not None
        assert entry.is_visible()  # still open: until its window ends
        window = {"window_end": f"{datetime.now(zone):%H:%M}"}  # the window ends now
        admin = {"Authorization": f"Bearer {admin_key}"}
        moved = httpx.patch(
            f"{stack.http}/api/v1/programs/{program_id}", json=window, headers=admin
        )
        assert moved.status_code == 200, moved.text
        entry.wait_for(state="detached", timeout=scaled(30_000))  # then gone, live
        listed = httpx.get(f"{stack.http}/api/v1/alerts").json()["items"]
        assert [(a["kind"], a["programs"]) for a in listed] == [("cold", 1)]  # what was on
