"""The city-wide summary: by sector, confidential sites' counts included, never their place."""


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
