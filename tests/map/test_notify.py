"""Tell me when a bed opens: a wish saved on the map fires, in Chromium, an in-page alert and
a browser notification when a matching full program gets a free bed from a dial's count; a
signed-in worker can have the same wish texted to a phone, which the page never keeps."""

import json
import uuid

from sqlmodel import Session

from firmware.dialcore import protocol
from server.auth import issue_key
from server.models import Role
from tests.map.conftest import DESKTOP, system_settings
from tests.support.sms_receiver import Receiver
from tests.support.stack import Stack
from tests.support.waiting import wait_until

# Records what the page shows as notifications (Chromium's own, headless, shows nothing)
RECORD_NOTIFICATIONS = """
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shown.push([title, options.body]); }
};
"""


def test_a_wish_fires_an_alert_and_a_notification_when_a_bed_opens(
    postgres, mosquitto, tmp_path, browser
):
    url = postgres.new_database(f"wish_{uuid.uuid4().hex[:8]}")  # as in production
    settings = system_settings(tmp_path, mosquitto.url, tiles_url="", database_url=url)
    with Stack(settings) as stack:
        device_id = f"wish-{uuid.uuid4().hex[:6]}"
        stack.add_site(device_id, capacity=10, name="Oak House")
        topic = protocol.topic(device_id, "state")
        stack.publish(topic, protocol.encode_state(1, 1, "occupied", 0, [(10, 10)]))  # full
        context = browser.new_context(**DESKTOP)
        context.add_init_script(RECORD_NOTIFICATIONS)
        try:
            page = context.new_page()
            page.goto(stack.http + "/")
            entry = page.locator(".ss-entry", has_text="Oak House")
            entry.filter(has_text="0 of 10").wait_for()
            assert not page.locator("#ss-wish-text").count()  # this server sends no texts
            page.get_by_role("button", name="Filters").click()  # the wish is made of them
            page.get_by_role("button", name="Tell me when a bed opens").click()
            page.locator("#ss-wish-alert").filter(has_text="Saved").wait_for()
            stack.publish(topic, protocol.encode_state(1, 2, "occupied", 0, [(9, 10)]))
            alert = page.locator("#ss-wish-alert").filter(has_text="A bed opened")
            alert.wait_for()
            assert alert.inner_text() == "A bed opened: 1 free at Oak House (Beds, Men)"
            assert page.evaluate("window.shown") == [["A bed opened", alert.inner_text()]]
            stack.publish(topic, protocol.encode_state(1, 3, "occupied", 0, [(8, 10)]))
            entry.filter(has_text="2 of 10").wait_for()
            assert len(page.evaluate("window.shown")) == 1  # free already: no news
        finally:
            context.close()


def test_a_signed_in_worker_has_the_wish_texted_and_the_page_keeps_no_number(
    mosquitto, tmp_path, browser
):
    with Receiver() as receiver:
        settings = system_settings(
            tmp_path, mosquitto.url, tiles_url="", sms_webhook_url=receiver.url
        )
        with Stack(settings) as stack:
            device_id = f"text-{uuid.uuid4().hex[:6]}"
            stack.add_site(device_id, capacity=10, name="Oak House")
            topic = protocol.topic(device_id, "state")
            stack.publish(topic, protocol.encode_state(1, 1, "occupied", 0, [(10, 10)]))  # full
            with Session(stack.system.engine) as session:
                _row, key = issue_key(session, "text wish tests", Role.outreach)
                session.commit()
            context = browser.new_context(**DESKTOP)
            try:
                page = context.new_page()
                page.goto(stack.http + "/")
                page.locator(".ss-entry", has_text="Oak House").filter(
                    has_text="0 of 10"
                ).wait_for()
                form = page.locator("#ss-wish-text")
                assert not form.is_visible()  # public: a text needs an outreach key
                page.get_by_role("button", name="Outreach sign-in").click()
                assert not form.is_visible()  # nor while signing in (it ran ahead of the key)
                page.get_by_label("Outreach key").fill(key)
                page.get_by_role("button", name="Sign in").click()
                send = form.get_by_role("button", name="Text when a bed opens")
                phone = form.get_by_label("Number with its country code", exact=False)
                phone.fill("416 555 0199")  # no country code: said before anything is sent
                send.click()
                form.get_by_text("Write the number with its country code").wait_for()
                phone.fill("+1 (416) 555-0199")  # as people write it
                send.click()
                note = form.locator(".ss-note")
                wait_until(lambda: "aved" in note.inner_text(), message="the wish's answer")
                assert note.inner_text().startswith("Saved: a text goes to that number once")
                assert form.locator("li[data-wish]").count() == 1
                assert phone.input_value() == ""
                kept = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
                assert "5550199" not in kept

                stack.publish(topic, protocol.encode_state(1, 2, "occupied", 0, [(9, 10)]))
                wait_until(lambda: receiver.received, message="the wish's text")
                [text] = [r["body"] for r in receiver.received]
                assert (text["kind"], text["to"], text["language"]) == (
                    "bed_opened",
                    "+14165550199",
                    "en",
                )
                # texted, the wish has ended: cancelling it says so and takes it off the list
                form.get_by_role("button", name="Cancel the text").click()
                form.get_by_text("That text was sent already or has ended.").wait_for()
                assert not form.locator("li[data-wish]").count()
                assert (
                    json.loads(page.evaluate("sessionStorage['shelter-signal.text-wishes']")) == []
                )
            finally:
                context.close()
