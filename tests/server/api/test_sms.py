"""Text messages through the API (routes/sms.py): the inbound webhook's answers, wishes
texted to a local HTTP receiver standing in for the provider's adapter, and both saying so
when SMS is not configured."""

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from server.api.main import create_app
from server.models import Program, Site, utcnow
from server.sms.numbers import REPLIES_PER_HOUR
from tests.support.sms_receiver import Receiver
from tests.support.waiting import wait_until

TOKEN = "inbound-token-for-tests"
WEBHOOK_TOKEN = "outbound-token-for-tests"
SENDER = "+14165550199"
OTHER = "+14165550100"


@pytest.fixture
def sms_settings(settings):
    return settings.model_copy(update={"sms_inbound_token": SecretStr(TOKEN)})


@pytest.fixture
def sms_client(engine, sms_settings):
    with TestClient(create_app(sms_settings, engine)) as client:
        yield client


def _text(client, message, sender=SENDER, authorization=f"Bearer {TOKEN}"):
    return client.post(
        "/api/v1/sms/inbound",
        json={"from": sender, "text": message},
        headers={"Authorization": authorization} if authorization else {},
    )


def _reply(client, message, sender=SENDER) -> str:
    answered = _text(client, message, sender)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["kind"], body["to"]) == ("reply", sender)
    return body["text"]


def test_sms_routes_say_plainly_that_sms_is_not_configured(client, headers):
    refused = _text(client, "BEDS M5V")
    assert refused.status_code == 503
    assert refused.json()["error"] == {
        "code": "unavailable",
        "message": "SMS is not configured: SIGNAL_SMS_INBOUND_TOKEN is unset",
    }
    wish = client.post("/api/v1/sms/wishes", json={"phone": SENDER}, headers=headers["outreach"])
    assert wish.status_code == 503
    assert wish.json()["error"]["message"] == (
        "SMS is not configured: SIGNAL_SMS_WEBHOOK_URL is unset"
    )
    assert client.get("/api/v1/shelters").status_code == 200  # the rest runs


def test_the_inbound_webhook_lets_only_the_provider_in(sms_client, city):
    for authorization in (None, "Bearer wrong-token", "Basic bm9wZQ==", "Token x"):
        refused = _text(sms_client, "BEDS King", authorization=authorization)
        assert refused.status_code == 401, authorization
        assert "SIGNAL_SMS_INBOUND_TOKEN" in refused.json()["error"]["message"]
    basic = base64.b64encode(f"provider:{TOKEN}".encode()).decode()
    assert _text(sms_client, "BEDS King", authorization=f"Basic {basic}").status_code == 200


def test_an_inbound_text_gets_the_nearest_free_places(sms_client, session, city):
    maple = session.get(Site, city["Maple House"]["site"])
    maple.postal_code = "M5H 2N2"
    maple.phone = "416-555-0101"
    session.add(maple)
    session.commit()
    assert _reply(sms_client, "BEDS M5H 2N2") == (
        "Free now near M5H 2N2:\n"
        "1. Maple House: 8 free, 0 min ago, 0.0 km, 416-555-0101\n"
        "2. Willow Place: 3 free, 0 min ago, 5.8 km, 416-555-0120"
    )
    # women: Willow's mixed beds (its women's are full); any case, any spacing, the area only
    assert _reply(sms_client, "  beds   m5h  WOMEN ") == (
        "Free now near m5h (women):\n1. Willow Place: 3 free, 0 min ago, 5.8 km, 416-555-0120"
    )
    # in French by the keyword, from a street of a shelter's address
    assert _reply(sms_client, "LITS king femmes") == (
        "Libre maintenant près de king (femmes) :\n"
        "1. Willow Place : 3 libre(s), il y a 0 min, 5.8 km, 416-555-0120"
    )
    assert _reply(sms_client, "BEDS King youth") == (
        "No shelter near King (youth) takes people in now with a free place by a recent "
        "count. Text again later."
    )


def test_stale_counts_and_confidential_sites_are_never_in_an_answer(
    sms_client, session, city, count
):
    count(city["Willow Place"]["mixed"], 5, at=utcnow() - timedelta(hours=4))  # stale
    assert _reply(sms_client, "BEDS King women") == (
        "No shelter near King (women) takes people in now with a free place by a recent "
        "count. Text again later."
    )
    # Safe Harbour (confidential, 6 free women's beds) locates nothing and is never listed
    for where in ("M5V 1A1", "Safe Harbour", "Hidden Rd"):
        assert _reply(sms_client, f"BEDS {where}").startswith("No place found for")
    assert "Harbour" not in _reply(sms_client, "BEDS Maple House")


def test_a_program_whose_intake_is_closed_now_is_not_in_an_answer(sms_client, session, city):
    mixed = session.get(Program, city["Willow Place"]["mixed"])
    assert _reply(sms_client, "BEDS King women").startswith("Free now near King (women):\n1. W")
    mixed.intake_schedule = []  # by referral only: never open for intake
    session.add(mixed)
    session.commit()
    assert _reply(sms_client, "BEDS King women").startswith("No shelter near King (women)")


def test_texts_that_are_not_questions_get_a_short_help(sms_client, city):
    both = _reply(sms_client, "hello?")
    assert both.startswith("Text BEDS and a postal code or place")
    assert "Envoyez LITS" in both
    assert _reply(sms_client, "BEDS").startswith("Text BEDS and a postal code")
    assert _reply(sms_client, "lits").startswith("Envoyez LITS et un code postal")
    assert _reply(sms_client, "BEDS Atlantis women") == (
        'No place found for "Atlantis". Text BEDS and a postal code (M5V 2T6), a street or a city.'
    )
    assert _reply(sms_client, "") == both
    bad = _text(sms_client, "BEDS \x00")
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("text:")


def test_a_sender_gets_a_limited_number_of_answers_an_hour(sms_client, city):
    for _ in range(REPLIES_PER_HOUR):
        assert _text(sms_client, "BEDS King").status_code == 200
    over = _text(sms_client, "BEDS King")
    assert over.status_code == 429
    assert _text(sms_client, "BEDS King", sender=OTHER).status_code == 200


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def texting(engine, settings, receiver):
    """A client of an app that sends wishes' texts to `receiver`."""
    update = {
        "sms_webhook_url": receiver.url,
        "sms_webhook_token": SecretStr(WEBHOOK_TOKEN),
        "sms_inbound_token": SecretStr(TOKEN),
    }
    with TestClient(create_app(settings.model_copy(update=update), engine)) as client:
        yield client


def _wish(client, headers, **body):
    return client.post("/api/v1/sms/wishes", json={"phone": SENDER, **body}, headers=headers)


def test_a_wish_is_texted_once_when_a_matching_bed_opens(texting, headers, receiver, city, count):
    maple = city["Maple House"]["men"]
    count(maple, 20)  # full
    willow = city["Willow Place"]["mixed"]
    count(willow, 8)  # full
    made = _wish(texting, headers["outreach"], sectors=["men"], place="King", radius_km=2)
    assert made.status_code == 201, made.text
    assert SENDER not in made.text  # the number is never given back
    assert (made.json()["lat"], made.json()["lon"]) == (43.65, -79.38)  # Maple's, 1 King St
    count(willow, 7)  # a bed opens at Willow, but 5.8 km away and mixed
    count(maple, 19)  # one bed opens
    wait_until(lambda: receiver.received, message="a text to the receiver")
    [sent] = receiver.received
    assert sent == {
        "authorization": f"Bearer {WEBHOOK_TOKEN}",
        "body": {
            "kind": "bed_opened",
            "to": SENDER,
            "text": "Bed open: 1 free at Maple House (Men's beds, men), counted 0 min ago.",
            "language": "en",
        },
    }
    # The server forgets the wish once the webhook has answered, a moment after the receiver
    # has the text (a DELETE in between still ends it: seen once with the suite run in two).
    wishes = texting.app.state.sms.wishes._wishes
    wait_until(lambda: not wishes, message="the answered wish forgotten")
    ended = texting.delete(f"/api/v1/sms/wishes/{made.json()['id']}", headers=headers["outreach"])
    assert ended.status_code == 404  # answered: the wish, and the number, are gone
    count(maple, 20)
    assert _wish(texting, headers["outreach"], phone=OTHER).status_code == 201
    count(maple, 18)  # opens again: only the other number's wish is waiting
    wait_until(lambda: len(receiver.received) == 2, message="the other number's text")
    assert [r["body"]["to"] for r in receiver.received] == [SENDER, OTHER]


def test_a_wish_anywhere_tells_of_a_confidential_bed_without_its_place(
    texting, headers, receiver, city, count
):
    harbour = city["Safe Harbour"]["women"]
    count(harbour, 10)
    made = _wish(texting, headers["outreach"], sectors=["women"], language="fr")
    assert made.status_code == 201, made.text
    count(harbour, 8)
    wait_until(lambda: receiver.received, message="a text to the receiver")
    assert receiver.received[0]["body"]["text"] == (
        "Place libre : 2 à Safe Harbour (Harbour women, femmes), compté il y a 0 min. "
        "Tél. 416-555-0150."
    )


def test_wishes_are_ended_by_their_key_and_replaced_for_the_same_number(
    texting, headers, receiver, city, count
):
    maple = city["Maple House"]["men"]
    count(maple, 20)
    first = _wish(texting, headers["outreach"], sectors=["women"]).json()["id"]
    second = _wish(texting, headers["outreach"], sectors=["men"]).json()["id"]  # replaces it
    gone = texting.delete(f"/api/v1/sms/wishes/{first}", headers=headers["outreach"])
    assert gone.status_code == 404
    other = texting.delete(f"/api/v1/sms/wishes/{second}", headers=headers["city"])
    assert other.status_code == 404  # another key's wish
    assert _wish(texting, {}, sectors=["men"]).status_code == 401
    count(maple, 19)
    wait_until(lambda: receiver.received, message="the men's wish's text")
    assert "Maple House" in receiver.received[0]["body"]["text"]
    third = _wish(texting, headers["outreach"]).json()["id"]
    ended = texting.delete(f"/api/v1/sms/wishes/{third}", headers=headers["outreach"])
    assert ended.status_code == 204
    count(maple, 20)
    count(city["Willow Place"]["mixed"], 8)  # both full
    assert _wish(texting, headers["outreach"], phone=OTHER, sectors=["mixed"]).status_code == 201
    count(maple, 18)  # a men's bed: the ended wish would have had it
    count(city["Willow Place"]["mixed"], 7)  # a mixed bed: the other wish has it
    wait_until(lambda: len(receiver.received) == 2, message="the other number's text")
    assert [r["body"]["to"] for r in receiver.received] == [SENDER, OTHER]


@pytest.mark.parametrize("word", ["STOP", " stop ", "Arrêt", "UNSUBSCRIBE"])
def test_stop_ends_the_senders_wish_and_gets_no_answer(
    texting, headers, receiver, city, count, word
):
    maple = city["Maple House"]["men"]
    count(maple, 20)
    assert _wish(texting, headers["outreach"]).status_code == 201
    assert _wish(texting, headers["outreach"], phone=OTHER).status_code == 201
    stopped = _text(texting, word)
    assert (stopped.status_code, stopped.content) == (204, b"")
    count(maple, 19)
    wait_until(lambda: receiver.received, message="the other number's text")
    assert [r["body"]["to"] for r in receiver.received] == [OTHER]


def test_a_wish_is_checked_before_it_waits(texting, headers, city):
    outreach = headers["outreach"]
    unknown = _wish(texting, outreach, place="Atlantis")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"] == "place: no place found for 'Atlantis'"
    long = _wish(texting, outreach, minutes=241)
    assert long.json()["error"]["message"] == "minutes: a wish waits at most 240 minutes here"
    half = _wish(texting, outreach, lat=43.6)
    assert half.status_code == 422 and "lat and lon together" in half.json()["error"]["message"]
    bad = _wish(texting, outreach, phone="416-555-0199")
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("phone:")
