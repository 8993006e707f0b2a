"""Alerts through the API: city staff start and end them, anyone lists what was on when, and
a program tied to the kind opens (all-day window) for the public while one is on."""

from sqlmodel import select

from server.models import Program


def test_city_staff_start_and_end_an_alert_that_opens_a_program(client, headers, site, session):
    program = session.exec(select(Program)).one()
    program.opens_with_alert = "cold"
    session.add(program)
    session.commit()
    assert client.get("/api/v1/shelters").json()["items"] == []  # closed: no site to show
    body = {"kind": "cold", "name": "Extreme Cold Weather Alert"}
    assert client.post("/api/v1/alerts", json=body, headers=headers["outreach"]).status_code == 403
    started = client.post("/api/v1/alerts", json=body, headers=headers["city"])
    assert (started.status_code, started.json()["programs"]) == (201, 1)
    again = client.post("/api/v1/alerts", json=body, headers=headers["city"])
    assert (again.status_code, again.json()["id"]) == (200, started.json()["id"])
    [shown] = client.get("/api/v1/shelters").json()["items"][0]["programs"]
    assert (shown["is_open"], shown["open_for"]) == (True, "Extreme Cold Weather Alert")
    alert_id = started.json()["id"]
    ended = client.post(f"/api/v1/alerts/{alert_id}/end", headers=headers["city"])
    assert ended.json()["ended_at"] is not None
    listed = client.get("/api/v1/alerts").json()["items"]
    assert [(a["id"], a["ended_at"] is not None) for a in listed] == [(alert_id, True)]
    assert client.get("/api/v1/alerts?on=true").json()["items"] == []
    missing = client.post("/api/v1/alerts/999/end", headers=headers["city"])
    assert missing.status_code == 404
    bad = client.post("/api/v1/alerts", json={**body, "kind": "Cold!"}, headers=headers["city"])
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("kind:")


def test_a_surge_window_or_kind_that_is_no_clock_time_or_kind_is_refused(
    client, headers, site, session
):
    """They used to be stored as sent (SQLModel's `regex=` is not checked under Pydantic 2),
    and a window of "99:99" then broke every look at the surge programs (found by
    schemathesis in CI, 2026-12-04)."""
    url = f"/api/v1/programs/{session.exec(select(Program)).one().id}"
    admin = headers["admin"]
    wrong = (("window_start", "99:99"), ("window_end", "7pm"), ("opens_with_alert", "Cold!"))
    for field, value in wrong:
        refused = client.patch(url, json={field: value}, headers=admin)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["error"]["message"].startswith(f"{field}:")
    body = {"opens_with_alert": "cold", "window_start": "19:00", "window_end": "07:00"}
    assert client.patch(url, json=body, headers=admin).status_code == 200
