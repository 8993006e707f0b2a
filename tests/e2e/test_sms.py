"""Text messages on the real stack (Mosquitto, PostgreSQL, the server as `run` starts it): a
wish made through the API is texted to a local HTTP receiver standing in for the provider's
adapter when a dial's count frees a bed, and an inbound text gets its answer."""

import uuid

import httpx
from pydantic import SecretStr

from firmware.dialcore import protocol
from tests.support.sms_receiver import Receiver
from tests.support.stack import Stack, settings_for
from tests.support.waiting import scaled, wait_until

ADMIN_KEY = "admin-key-for-the-sms-test"
INBOUND_TOKEN = "inbound-token-for-the-sms-test"
NUMBER = "+14165550199"


def test_a_wish_is_texted_when_a_dial_frees_a_bed_and_a_text_gets_its_answer(postgres, mosquitto):
    url = postgres.new_database(f"sms_{uuid.uuid4().hex[:8]}")
    with Receiver() as receiver:
        settings = settings_for(url, mosquitto.url).model_copy(
            update={
                "admin_api_key": SecretStr(ADMIN_KEY),
                "sms_webhook_url": receiver.url,
                "sms_inbound_token": SecretStr(INBOUND_TOKEN),
            }
        )
        with Stack(settings) as stack, httpx.Client(base_url=stack.http, timeout=scaled(10)) as api:
            device_id = f"sms-{uuid.uuid4().hex[:6]}"
            stack.add_site(device_id, capacity=10, name="Oak House")  # 1 Test St
            topic = protocol.topic(device_id, "state")
            stack.publish(topic, protocol.encode_state(1, 1, "occupied", 0, [(10, 10)]))  # full
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            wait_until(
                lambda: api.get("/api/v1/shelters", headers=admin).json()["items"][0]["occupied"],
                message="the full count in the API",
            )
            issued = api.post(
                "/api/v1/api-keys", json={"name": "outreach", "role": "outreach"}, headers=admin
            )
            outreach = {"Authorization": f"Bearer {issued.json()['key']}"}
            wish = {"phone": NUMBER, "sectors": ["men"], "place": "test st", "radius_km": 1}
            made = api.post("/api/v1/sms/wishes", json=wish, headers=outreach)
            assert made.status_code == 201, made.text

            stack.publish(topic, protocol.encode_state(1, 2, "occupied", 0, [(9, 10)]))
            wait_until(lambda: receiver.received, message="the wish's text")
            assert [r["body"] for r in receiver.received] == [
                {
                    "kind": "bed_opened",
                    "to": NUMBER,
                    "text": "Bed open: 1 free at Oak House (Beds, men), counted 0 min ago. "
                    "Call 416-555-0100.",
                    "language": "en",
                }
            ]

            answered = api.post(
                "/api/v1/sms/inbound",
                json={"from": "+15145550123", "text": "LITS Test St"},
                headers={"Authorization": f"Bearer {INBOUND_TOKEN}"},
            )
            assert answered.status_code == 200, answered.text
            assert answered.json() == {
                "kind": "reply",
                "to": "+15145550123",
                "text": "Libre maintenant près de Test St :\n"
                "1. Oak House : 1 libre(s), il y a 0 min, 0.0 km, 416-555-0100",
                "language": "fr",
            }
