"""The city page's new parts: turn-aways night by night (city-wide for anyone, by sector and
reason with a city key; sent by a dial through the real broker), and alerts."""

import uuid

from sqlmodel import Session, select

from firmware.dialcore import protocol
from server.auth import issue_key
from server.models import Alert, Role, TurnAway
from tests.map.conftest import DESKTOP, system_settings
from tests.support.stack import Stack
from tests.support.waiting import wait_until


def test_the_city_page_shows_turn_aways_per_night_by_sector_and_reason(
    mosquitto, tmp_path, open_page
):
    settings = system_settings(tmp_path, mosquitto.url, tiles_url="")
    with Stack(settings) as stack:
        device_id = f"away-{uuid.uuid4().hex[:6]}"
        stack.add_site(device_id, name="Birch House")
        turned = [{"turned_away": {"no_bed": 2, "not_eligible_age": 1}}]
        state = protocol.encode_state(1, 1, "occupied", 0, [(5, 20)], None, extra=turned)
        stack.publish(protocol.topic(device_id, "state"), state)
        engine = stack.system.engine

        def stored():
            with Session(engine) as session:
                return len(session.exec(select(TurnAway)).all())

        wait_until(lambda: stored() == 2, message="the dial's turn-aways stored")
        with Session(engine) as session:
            _row, city_key = issue_key(session, "city page turn-aways", Role.city)
            session.commit()

        page = open_page(stack.http + "/city", **DESKTOP)
        rows = page.locator("#ss-turnaways tbody tr")
        rows.last.filter(has_text="all sectors").wait_for()  # public: city-wide only
        assert rows.count() == 7  # a week of nights, tonight first
        assert rows.first.inner_text().split("\t")[1:] == ["all sectors", "3", "2", "1 (age 1)"]
        page.get_by_label("API key").fill(city_key)
        page.get_by_role("button", name="Use this key").click()
        rows.first.filter(has_text="Men").wait_for()
        assert rows.first.inner_text().split("\t")[1:] == ["Men", "3", "2", "1 (age 1)"]
        assert "Birch House" not in page.locator("#ss-turnaways").inner_text()


def test_city_staff_start_and_end_an_alert_on_the_city_page(mosquitto, tmp_path, open_page):
    settings = system_settings(tmp_path, mosquitto.url, tiles_url="")
    with Stack(settings) as stack:
        with Session(stack.system.engine) as session:
            _row, city_key = issue_key(session, "city page alerts", Role.city)
            session.commit()
        page = open_page(stack.http + "/city", **DESKTOP)
        alerts = page.locator("#ss-alerts")
        alerts.get_by_text("No alert is on.").wait_for()
        page.get_by_label("API key").fill(city_key)
        page.get_by_role("button", name="Use this key").click()
        alerts.get_by_role("button", name="Start the alert").click()
        item = alerts.locator("li[data-alert]")
        item.filter(has_text="Extreme Cold Weather Alert").wait_for()
        assert "(cold: opens 0 programs at their next window)" in item.inner_text()
        item.get_by_role("button", name="End").click()
        alerts.get_by_text("No alert is on.").wait_for()
        with Session(stack.system.engine) as session:
            [alert] = session.exec(select(Alert)).all()
        assert (alert.kind, alert.ended_at is not None) == ("cold", True)
