"""The city-wide summary: by sector, confidential sites' counts included, never their place."""

from datetime import timedelta

from server.models import utcnow


def test_the_summary_adds_up_every_sector_with_confidential_counts(client, city):
    body = client.get("/api/v1/summary").json()  # public
    by_sector = {s["sector"]: s for s in body["sectors"]}
    assert set(by_sector) == {"men", "women", "mixed", "youth"}  # no family programs
    women = by_sector["women"]  # Willow: 8 of 10, 2 out of service; Safe Harbour: 4 of 10
    assert {k: women[k] for k in ("programs", "programs_reporting", "capacity")} == {
        "programs": 2,
        "programs_reporting": 2,
        "capacity": 20,
    }
    assert (women["out_of_service"], women["occupied"], women["available"]) == (2, 12, 6)
    men = by_sector["men"]  # Maple: 12 of 20; Unplaced Centre: no reading yet
    assert (men["programs"], men["programs_reporting"], men["capacity"], men["available"]) == (
        2,
        1,
        20,
        8,
    )
    assert men["programs_by_freshness"] == {"fresh": 1, "aging": 0, "stale": 0, "unknown": 1}
    total = body["total"]
    assert total["sector"] is None
    assert (total["programs"], total["capacity"], total["occupied"], total["available"]) == (
        6,
        60,
        31,
        27,
    )
    assert body["updated_at"] == total["updated_at"] is not None
    assert "Safe Harbour" not in str(body) and "Hidden" not in str(body)


def test_the_summary_of_an_empty_city_is_zero(client):
    body = client.get("/api/v1/summary").json()
    assert body["sectors"] == [] and body["updated_at"] is None
    assert body["total"]["programs"] == body["total"]["available"] == 0


def test_current_totals_leave_out_stale_counts(client, city, count):
    """`available_current` is what the map shows as free now: fresh and aging counts only."""
    before = client.get("/api/v1/summary").json()["total"]
    assert before["available_current"] == before["available"] == 27  # every count is fresh
    assert before["programs_current"] == before["programs_reporting"]
    count(city["Willow Place"]["mixed"], 5, at=utcnow() - timedelta(hours=4))  # 3 free, stale
    count(city["Willow Place"]["women"], 6, at=utcnow() - timedelta(hours=2))  # 2 free, aging
    total = client.get("/api/v1/summary").json()["total"]
    assert total["available"] == 29  # every count, however old
    assert total["available_current"] == 26  # the stale 3 left out, the aging 2 kept
    assert total["programs_current"] == total["programs_reporting"] - 1
