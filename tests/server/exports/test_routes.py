"""GET /api/v1/exports/toronto-occupancy.csv: for city staff, the file, its default date,
clear refusals."""

import csv
from datetime import date, timedelta

import pytest
from sqlmodel import select

from server.auth import issue_key
from server.exports.toronto_csv import COLUMNS, latest_date, snapshot_time
from server.models import Program, Reading, Role, utcnow

CSV = "/api/v1/exports/toronto-occupancy.csv"


def key(session, role: Role) -> dict[str, str]:
    _row, secret = issue_key(session, f"{role} caller", role)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_csv_of_a_date_is_served_as_a_named_csv_file(client, session, site):
    night = latest_date(utcnow())
    program = session.exec(select(Program)).one()
    session.add(
        Reading(
            program_id=program.id, boot=0, seq=1, channel=0, occupied=7, capacity=20,
            source="web", received_at=snapshot_time(night) - timedelta(hours=1),
        )
    )  # fmt: skip
    session.commit()
    response = client.get(f"{CSV}?date={night}", headers=key(session, Role.city))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="toronto-occupancy-{night}.csv"'
    )
    assert response.text.splitlines()[0] == ",".join(COLUMNS)
    [row] = csv.DictReader(response.text.splitlines())
    assert (row["LOCATION_NAME"], row["OCCUPIED_BEDS"], row["UNOCCUPIED_BEDS"]) == (
        "Maple House",
        "7",
        "13",
    )


def test_without_a_date_it_is_the_newest_night_already_counted(client, session):
    response = client.get(CSV, headers=key(session, Role.admin))
    night = latest_date(utcnow())
    assert response.status_code == 200
    assert f'filename="toronto-occupancy-{night}.csv"' in response.headers["content-disposition"]


def test_it_is_for_city_staff_only(client, session):
    # It lists confidential programs' own counts: the public sees those only in aggregates.
    assert client.get(CSV).status_code == 401
    outreach = client.get(CSV, headers=key(session, Role.outreach))
    assert outreach.status_code == 403
    assert outreach.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2024-02-30", "date: Input should be a valid date"),
        ("date=tomorrow", "date: Input should be a valid date"),
        (f"date={date.today() + timedelta(days=2)}", "date: the count for"),
    ],
)
def test_a_bad_or_future_date_is_refused_in_the_api_error_shape(client, session, query, message):
    response = client.get(f"{CSV}?{query}", headers=key(session, Role.city))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert message in response.json()["error"]["message"]
