"""Holds through the API: who may place, see and cancel them; the split in every answer;
expiry with nobody connected."""

from datetime import timedelta

from server.api.live import Broadcaster
from server.models import Hold, HoldState, utcnow
from tests.support.waiting import wait_until

MEN = 1  # the `site` fixture's one program: Maple House's 20 men's beds


def _place(client, headers, program_id, **body):
    return client.post(f"/api/v1/programs/{program_id}/holds", json=body, headers=headers)


def _program(client, program_id, headers=None):
    [site] = client.get("/api/v1/shelters", headers=headers).json()["items"]
    return next(p for p in site["programs"] if p["id"] == program_id) | {"site": site}


def test_a_worker_holds_a_place_sees_it_and_cancels_it(client, headers, site, count):
    program_id = MEN
    count(program_id, 12)  # 8 of 20 free
    placed = _place(client, headers["outreach"], program_id, note="arriving by bus", minutes=45)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["state"], hold["note"], hold["mine"], hold["site_id"]) == (
        "active",
        "arriving by bus",
        True,
        site.id,
    )
    assert len(hold["code"]) == 4
    # the split, as the public sees it: held counted, available less one, no note anywhere
    public = _program(client, program_id)
    assert (public["occupied"], public["held"], public["available"]) == (12, 1, 7)
    assert public["site"]["held"] == 1
    assert "arriving" not in client.get("/api/v1/shelters").text
    total = client.get("/api/v1/summary").json()["total"]
    assert (total["held"], total["available"]) == (1, 7)
    [capacity] = client.get("/api/v1/exports/hsds.json").json()["contents"][0]["capacities"]
    assert capacity["available"] == 7  # HSDS available excludes holds
    # the worker's own list has the note; another worker's has nothing; city sees no note
    mine = client.get("/api/v1/holds", headers=headers["outreach"]).json()["items"]
    assert [(h["code"], h["note"]) for h in mine] == [(hold["code"], "arriving by bus")]
    other = client.post(
        "/api/v1/api-keys", json={"name": "other", "role": "outreach"}, headers=headers["admin"]
    ).json()["key"]
    other = {"Authorization": f"Bearer {other}"}
    assert client.get("/api/v1/holds", headers=other).json()["items"] == []
    seen = client.get("/api/v1/holds?scope=all", headers=headers["city"]).json()["items"]
    assert [(h["code"], h["note"], h["mine"]) for h in seen] == [(hold["code"], None, False)]
    refused = client.get("/api/v1/holds?scope=all", headers=headers["outreach"])
    assert refused.status_code == 403
    # only its own key may cancel it (another's gets a 404, as if there were none)
    cancel = f"/api/v1/holds/{hold['id']}/cancel"
    assert client.post(cancel, headers=other).status_code == 404
    cancelled = client.post(cancel, headers=headers["outreach"])
    assert cancelled.json()["state"] == "cancelled"
    assert _program(client, program_id)["available"] == 8
    again = client.post(cancel, headers=headers["outreach"])
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"hold {hold['code']} has ended already: cancelled"


def test_holds_need_a_key_and_a_free_place(client, headers, site, count):
    program_id = MEN
    count(program_id, 20)  # full
    assert _place(client, {}, program_id).status_code == 401
    full = _place(client, headers["outreach"], program_id)
    assert full.status_code == 409
    assert full.json()["error"]["message"].startswith("no free place left in Men's beds")
    long = _place(client, headers["outreach"], program_id, minutes=181)
    assert long.status_code == 422
    assert long.json()["error"]["message"] == "the city allows holds of at most 180 minutes"
    missing = _place(client, headers["outreach"], 999)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    named = _place(client, headers["outreach"], program_id, note="x" * 141)
    assert named.status_code == 422 and named.json()["error"]["message"].startswith("note:")


def test_a_hold_expires_with_nobody_connected_and_the_live_feed_sends_the_site(
    client, headers, site, count, session, engine, settings
):
    program_id = MEN
    count(program_id, 12)
    hold_id = _place(client, headers["outreach"], program_id).json()["id"]
    feed = Broadcaster(engine, settings)
    feed.changed_sites()  # from now
    hold = session.get(Hold, hold_id)
    hold.expires_at = utcnow() + timedelta(seconds=1)  # its time comes now, not in 90 minutes
    session.add(hold)
    session.commit()
    wait_until(
        lambda: session.refresh(hold) or hold.state == HoldState.expired,
        message="the server ends the hold at its time by itself",
    )
    [sent] = feed.changed_sites()
    assert (sent.id, sent.held, sent.available) == (site.id, 0, 8)
    expired = client.get("/api/v1/holds?state=expired", headers=headers["outreach"]).json()
    assert [h["id"] for h in expired["items"]] == [hold_id]
