"""Turn-aways through the API: the public sees city-wide totals per night, city staff see
sectors too and get a night's CSV."""

from datetime import timedelta

from tests.server.test_turnaways import send, tonight


def test_the_api_gives_the_public_city_wide_totals_and_city_staff_sectors_and_the_csv(
    client, headers, session, site
):
    send(session, 1, {"no_bed": 2, "not_eligible_age": 1})
    night = tonight()
    public = client.get(f"/api/v1/turnaways?start={night}&end={night}").json()
    [counted] = public["nights"]
    assert (counted["night"], counted["people"], counted["by_sector"]) == (str(night), 3, None)
    assert counted["by_reason"]["no_bed"] == 2 and counted["by_reason"]["not_eligible"] == 0
    city = client.get("/api/v1/turnaways", headers=headers["city"]).json()
    assert len(city["nights"]) == 7 and city["end"] == str(night)
    assert city["nights"][-1]["by_sector"] == [
        {"sector": "men", "reason": "no_bed", "people": 2},
        {"sector": "men", "reason": "not_eligible_age", "people": 1},
    ]
    reversed_ = client.get(f"/api/v1/turnaways?start={night}&end={night - timedelta(1)}")
    assert reversed_.json()["error"]["message"] == "start: start is after end"
    assert client.get("/api/v1/exports/turnaways.csv").status_code == 401
    csv = client.get(f"/api/v1/exports/turnaways.csv?night={night}", headers=headers["city"])
    assert csv.headers["content-disposition"] == f'attachment; filename="turnaways-{night}.csv"'
    assert csv.text.splitlines() == [
        "NIGHT,SITE_ID,SITE_NAME,PROGRAM_ID,PROGRAM_NAME,SECTOR,REASON,PEOPLE",
        f"{night},{site.id},Maple House,1,Men's beds,men,no_bed,2",
        f"{night},{site.id},Maple House,1,Men's beds,men,not_eligible_age,1",
    ]


def test_nights_no_calendar_or_clock_can_hold_are_refused_by_name(client, headers):
    for query in ("end=0001-01-01", "start=0001-01-01&end=1970-01-02", "end=9999-12-31"):
        answer = client.get(f"/api/v1/turnaways?{query}")
        assert answer.status_code == 422, query
        assert "a night from 1970-01-01 to 9999-12-30" in answer.json()["error"]["message"]
    night = client.get("/api/v1/exports/turnaways.csv?night=9999-12-31", headers=headers["city"])
    assert night.status_code == 422
    assert night.json()["error"]["message"] == "night: a night from 1970-01-01 to 9999-12-30"
