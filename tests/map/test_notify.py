"""Tell me when a bed opens: a wish saved on the map fires, in Chromium, an in-page alert and
a browser notification when a matching full program gets a free bed from a dial's count."""

import uuid

from firmware.dialcore import protocol
from tests.map.conftest import DESKTOP, system_settings
from tests.support.stack import Stack

# Records what the page shows as notifications (Chromium's own, headless, shows nothing)
RECORD_NOTIFICATIONS = """
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shown.push([title, options.body]); }
};
"""


def test_a_wish_fires_an_alert_and_a_notification_when_a_bed_opens(mosquitto, tmp_path, browser):
    settings = system_settings(tmp_path, mosquitto.url, tiles_url="")
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
