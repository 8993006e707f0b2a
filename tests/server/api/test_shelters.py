"""Sites with availability: freshness, filters, distance, privacy by role, one error shape."""

import time
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from firmware.dialcore import protocol
from map.page import FIRST_SCRIPTS, LATER_SCRIPTS, STATIC_DIR
from server.api.routes.shelters import CATCH_UP_MARGIN
from server.ingest.handler import handle
from server.models import CurrentState, Device, Program, Sector, Site, utcnow
from server.queries import sites
from server.shapes import SiteList


def reading(session, count):
    handle(
        session,
        protocol.topic("dial-01", "state"),
        protocol.encode_state(1, 1, "occupied", 1, [(count, 20)]),
        4096,
    )
    session.commit()


def names(client, query="", headers=None):
    response = client.get(f"/api/v1/shelters{query}", headers=headers or {})
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["items"]]


def test_list_shows_programs_with_availability_and_freshness(client, session, site):
    reading(session, 12)
    body = client.get("/api/v1/shelters").json()
    [item] = body["items"]
    assert (item["name"], item["capacity"], item["occupied"], item["available"]) == (
        "Maple House",
        20,
        12,
        8,
    )
    assert item["freshness"] == "fresh" and item["updated_at"] == body["updated_at"]
    assert item["distance_km"] is None  # only with near=
    [program] = item["programs"]
    assert (program["sector"], program["available"], program["accepting"]) == ("men", 8, True)
    assert (program["site_id"], program["out_of_service"]) == (site.id, 0)


def test_out_of_service_beds_are_never_available(client, session, city, count):
    willow = client.get(f"/api/v1/shelters/{city['Willow Place']['site']}").json()
    women = next(p for p in willow["programs"] if p["sector"] == "women")
    assert (women["capacity"], women["occupied"], women["out_of_service"]) == (10, 8, 2)
    assert women["available"] == 0
    count(city["Willow Place"]["women"], 9)  # one more than the usable beds: still 0, not -1
    willow = client.get(f"/api/v1/shelters/{city['Willow Place']['site']}").json()
    assert [p["available"] for p in willow["programs"]] == [0, 3]
    assert willow["available"] == 3


def test_a_site_without_readings_is_unknown(client, site):
    [item] = client.get("/api/v1/shelters").json()["items"]
    assert (item["occupied"], item["available"], item["freshness"]) == (None, None, "unknown")


@pytest.mark.parametrize(
    ("age_minutes", "expected"), [(29, "fresh"), (31, "aging"), (181, "stale")]
)
def test_freshness_follows_the_age_of_the_reading(client, session, site, age_minutes, expected):
    reading(session, 3)
    row = session.exec(select(CurrentState)).one()
    row.updated_at = row.updated_at - timedelta(minutes=age_minutes)
    session.add(row)
    session.commit()
    assert client.get(f"/api/v1/shelters/{site.id}").json()["freshness"] == expected


def test_an_offline_device_makes_its_numbers_unknown(client, session, site):
    reading(session, 3)
    device = session.get(Device, "dial-01")
    device.status = "lost"
    session.add(device)
    session.commit()
    assert client.get(f"/api/v1/shelters/{site.id}").json()["freshness"] == "unknown"


def test_sites_come_in_name_order_in_any_case(client, city):
    assert names(client) == ["Maple House", "Unplaced Centre", "Willow Place", "youth haven"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?sector=women", ["Willow Place"]),
        ("?sector=women&sector=youth", ["Willow Place", "youth haven"]),
        ("?has_space=true", ["Maple House", "Willow Place", "youth haven"]),
        ("?has_space=false", ["Unplaced Centre", "Willow Place"]),  # no reading; women full
        ("?sector=women&has_space=true", []),  # Willow's space is in its mixed program
        ("?sector=mixed&has_space=true", ["Willow Place"]),
        ("?accepting=false", ["youth haven"]),
        ("?has_space=true&accepting=true", ["Maple House", "Willow Place"]),
        ("?pets_allowed=true", ["Willow Place"]),
        ("?couples_allowed=true", ["Willow Place"]),
        ("?wheelchair_accessible=false", ["youth haven"]),  # unknown is neither true nor false
        ("?gender=men", ["Unplaced Centre", "Willow Place", "youth haven"]),  # men, or any
        ("?gender=women", ["Willow Place", "youth haven"]),
        ("?age=17", ["Maple House", "Unplaced Centre", "youth haven"]),  # Willow: 18 and up
        ("?age=30", ["Maple House", "Unplaced Centre", "Willow Place"]),  # youth: up to 24
        ("?q=HAVEN", ["youth haven"]),
        ("?q=w%20p", ["Willow Place"]),
        ("?q=harbour", []),  # confidential: not for the public
    ],
)
def test_filters(client, city, query, expected):
    assert names(client, query) == expected


def test_near_sorts_by_distance_and_radius_cuts_off(client, city):
    items = client.get("/api/v1/shelters?near=43.65,-79.38").json()["items"]
    assert [s["name"] for s in items] == ["Maple House", "youth haven", "Willow Place"]
    distances = [s["distance_km"] for s in items]
    assert distances[0] == 0.0
    # 0.01 degrees north (1.112 km) and west (0.805 km: a degree of longitude shrinks with
    # the cosine of the latitude) of Maple House: sqrt(1.112² + 0.805²) km
    assert distances[1] == pytest.approx(1.373, abs=0.001)
    assert distances == sorted(distances)
    assert names(client, "?near=43.65,-79.38&radius_km=2") == ["Maple House", "youth haven"]


def test_order_free_ranks_as_the_map_and_limit_gives_a_first_page(client, session, city):
    # youth haven 10 free, Maple House 8, Willow Place 3, Unplaced Centre no count
    assert names(client, "?order=free") == [
        "youth haven",
        "Maple House",
        "Willow Place",
        "Unplaced Centre",
    ]
    body = client.get("/api/v1/shelters?order=free&limit=2").json()
    assert [s["name"] for s in body["items"]] == ["youth haven", "Maple House"]
    assert body["total"] == 4  # every match, not only the first page
    youth = session.exec(select(Program).where(Program.name == "Youth beds")).one()
    state = session.get(CurrentState, youth.id)
    state.updated_at -= timedelta(hours=4)  # stale: ranked after every count to act on
    session.add(state)
    session.commit()
    assert names(client, "?order=free&limit=3") == ["Maple House", "Willow Place", "youth haven"]
    assert client.get("/api/v1/shelters").json()["total"] == 4


def test_order_distance_needs_a_point(client, city):
    response = client.get("/api/v1/shelters?order=distance")
    assert response.status_code == 422
    assert "near=lat,lon" in response.text
    near_willow = "?near=43.70,-79.40"
    assert names(client, near_willow)[0] == "Willow Place"
    assert names(client, near_willow + "&order=name")[0] == "Maple House"


def test_bbox_keeps_sites_inside_the_box(client, city):
    assert names(client, "?bbox=-79.395,43.645,-79.375,43.665") == ["Maple House", "youth haven"]
    assert names(client, "?bbox=-79.395,43.645,-79.375,43.665&sector=men") == ["Maple House"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?near=abc", "near"),
        ("?near=43.65", "near"),
        ("?near=91,0", "near"),
        ("?near=nan,0", "near"),
        ("?bbox=1,2,3", "bbox"),
        ("?bbox=-79.3,43.6,-79.4,43.7", "bbox"),  # min_lon above max_lon
        ("?radius_km=5", "radius_km"),
        ("?near=43.65,-79.38&radius_km=0", "radius_km"),
        ("?sector=cats", "sector"),
        ("?age=-1", "age"),
        ("?has_space=maybe", "has_space"),
        ("?gender=robot", "gender"),
        ("/groups", "zoom"),  # neither a zoom nor a map's size
        ("/groups?width=390", "zoom"),
        ("/groups?zoom=-1", "zoom"),
        ("/groups?zoom=31", "zoom"),
        ("/groups?zoom=near", "zoom"),
        ("/groups?width=0&height=600", "width"),
        ("/groups?width=390&height=99999", "height"),
        ("/groups?zoom=12&bbox=1,2,3", "bbox"),
        ("/groups?zoom=12&bbox=-79.3,43.6,-79.4,43.7", "bbox"),
    ],
)
def test_bad_parameters_get_422_naming_them(client, query, parameter):
    response = client.get(f"/api/v1/shelters{query}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{parameter}: ")


def test_confidential_sites_are_not_listed_publicly(client, session, site):
    hidden = Site(name="Safe Haven", lat=43.7, lon=-79.4, confidential=True)
    session.add(hidden)
    session.flush()
    session.add(Program(site_id=hidden.id, name="Women", sector=Sector.women, capacity=10))
    session.commit()
    names = [s["name"] for s in client.get("/api/v1/shelters").json()["items"]]
    assert names == ["Maple House"]
    assert client.get(f"/api/v1/shelters/{hidden.id}").status_code == 404
    geojson = client.get("/api/v1/exports/shelters.geojson").json()
    assert [f["properties"]["name"] for f in geojson["features"]] == ["Maple House"]


HIDDEN = {"address": None, "city": None, "postal_code": None, "lat": None, "lon": None}


def test_outreach_sees_a_confidential_sites_space_and_phone_but_not_where_it_is(
    client, city, headers
):
    site_id = city["Safe Harbour"]["site"]
    outreach = headers["outreach"]
    listed = client.get("/api/v1/shelters?sector=women", headers=outreach).json()["items"]
    assert [s["name"] for s in listed] == ["Safe Harbour", "Willow Place"]
    one = client.get(f"/api/v1/shelters/{site_id}", headers=outreach).json()
    assert one == listed[0]
    assert {k: one[k] for k in HIDDEN} == HIDDEN
    assert (one["phone"], one["available"], one["confidential"]) == ("416-555-0150", 6, True)
    # a search around a point would narrow down where it is: it never matches one
    assert "Safe Harbour" not in names(client, "?near=43.65,-79.38", outreach)
    assert "Safe Harbour" not in names(client, "?bbox=-80,43,-79,44", outreach)
    assert names(client, "?q=harbour", outreach) == ["Safe Harbour"]


@pytest.mark.parametrize("role", ["city", "admin"])
def test_city_staff_and_admins_see_everything(client, city, headers, role):
    site_id = city["Safe Harbour"]["site"]
    one = client.get(f"/api/v1/shelters/{site_id}", headers=headers[role]).json()
    assert (one["address"], one["postal_code"], one["lat"], one["lon"]) == (
        "99 Hidden Rd",
        "M5V 1A1",
        43.6501,
        -79.3801,
    )
    nearest = client.get("/api/v1/shelters?near=43.65,-79.38", headers=headers[role]).json()
    assert nearest["items"][0]["name"] == "Maple House"
    assert nearest["items"][1]["name"] == "Safe Harbour"


def test_errors_share_one_shape(client):
    missing = client.get("/api/v1/shelters/999")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no shelter with id 999"}}
    bad = client.get("/api/v1/shelters/abc")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    assert bad.json()["error"]["message"].startswith("site_id: ")
    nowhere = client.get("/api/v1/nothing-here")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"


def test_geojson_export_follows_rfc_7946(client, session, site):
    reading(session, 12)
    response = client.get("/api/v1/exports/shelters.geojson")
    assert response.headers["content-type"] == "application/geo+json"
    [feature] = response.json()["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [-79.38, 43.65]}
    assert feature["properties"]["available"] == 8


def test_the_map_page_and_its_assets_are_served_locally(client):
    page = client.get("/").text
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/live.js").status_code == 200


def test_the_map_gets_its_scripts_and_styles_as_one_file_each(client):
    page = client.get("/").text
    assert '<script src="/static/bundle/map.js">' in page
    assert '<link rel="stylesheet" href="/static/bundle/map.css"/>' in page
    assert "/static/live.js" not in page  # inside the bundle
    assert '"later": "/static/bundle/later.js"' in page  # live.js loads it after the markers
    for url, scripts in (("map.js", FIRST_SCRIPTS), ("later.js", LATER_SCRIPTS)):
        bundle = client.get(f"/static/bundle/{url}")
        assert bundle.headers["content-type"].startswith("text/javascript")
        for name in scripts:  # every script, in load order
            assert (STATIC_DIR / name).read_text() in bundle.text
        positions = [bundle.text.index(f"/* ---- {name} ---- */") for name in scripts]
        assert positions == sorted(positions)
    again = client.get("/static/bundle/later.js", headers={"If-None-Match": bundle.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert "--ss-" in client.get("/static/bundle/map.css").text  # colours.css's variables
    missing = client.get("/static/bundle/other.js")
    assert missing.status_code == 404 and "map.js" in missing.json()["error"]["message"]


# The markers of a view before the page has the list (GET /shelters/groups)


def groups(client, query, headers=None):
    response = client.get(f"/api/v1/shelters/groups{query}", headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def test_groups_hold_what_would_overlap_and_sites_apart_come_as_the_list_shows_them(client, city):
    far = groups(client, "?zoom=8")  # the three located public sites share one marker
    [group] = far["groups"]
    assert (group["sites"], group["free"], group["unknown"]) == (3, 8 + 3 + 10, 0)
    assert (group["lat"], group["lon"]) == (43.65, -79.38)  # its first site's, Maple House
    assert group["bounds"] == [-79.40, 43.65, -79.38, 43.70]
    assert far["items"] == [] and far["zoom"] == 8
    near = groups(client, "?zoom=16")  # street level: each its own marker
    listed = {s["name"]: s for s in client.get("/api/v1/shelters").json()["items"]}
    assert near["groups"] == []
    assert near["items"] == [listed[n] for n in ("Maple House", "Willow Place", "youth haven")]
    boxed = groups(client, "?zoom=16&bbox=-79.395,43.645,-79.375,43.665")
    assert [s["name"] for s in boxed["items"]] == ["Maple House", "youth haven"]
    assert boxed["bounds"] == [-79.40, 43.65, -79.38, 43.70]  # of every site: the whole view


def test_groups_without_a_zoom_fit_every_site_in_the_map(client, city):
    phone = groups(client, "?width=390&height=600")
    assert phone["zoom"] % 0.5 == 0 and 0 <= phone["zoom"] <= 15
    wide = groups(client, "?width=1600&height=1200")
    assert wide["zoom"] > phone["zoom"]  # more room: closer
    one_point = groups(client, "?width=390&height=600&bbox=-79.381,43.649,-79.379,43.651")
    assert one_point["zoom"] == phone["zoom"]  # the fit is of every site, not of the box


def test_unknown_counts_make_no_free_places_in_a_group(client, session, site):
    session.add(Site(name="Next Door", lat=43.651, lon=-79.381))
    session.commit()
    [group] = groups(client, "?zoom=8")["groups"]  # neither has a count
    assert (group["sites"], group["free"], group["unknown"]) == (2, None, 2)


@pytest.mark.parametrize("role", [None, "outreach", "city", "admin"])
def test_groups_never_place_a_confidential_site_whatever_the_key(client, city, headers, role):
    key = headers[role] if role else {}
    for query in ("?zoom=8", "?zoom=18", "?width=390&height=600"):
        answer = groups(client, query, key)
        assert sum(g["sites"] for g in answer["groups"]) + len(answer["items"]) == 3
        assert "Safe Harbour" not in {s["name"] for s in answer["items"]}
    assert groups(client, "?zoom=18", key)["bounds"] == [-79.40, 43.65, -79.38, 43.70]


def test_groups_of_a_city_with_no_placed_site_are_empty(client):
    assert groups(client, "?width=390&height=600") == {
        "zoom": 0.0,
        "bounds": None,
        "groups": [],
        "items": [],
        "updated_at": None,
    }


# The list is kept per process between requests (server/api/list_cache.py): each test
# below asks once, changes one thing the list depends on, and asks again.


def free_beds(client, headers=None):
    items = client.get("/api/v1/shelters", headers=headers or {}).json()["items"]
    return {s["name"]: s["available"] for s in items}


def test_a_kept_list_shows_a_reading_committed_after_it(client, session, site):
    reading(session, 12)
    assert free_beds(client) == {"Maple House": 8}
    handle(
        session,
        protocol.topic("dial-01", "state"),
        protocol.encode_state(1, 2, "occupied", 1, [(15, 20)]),
        4096,
    )
    session.commit()
    assert free_beds(client) == {"Maple House": 5}


def test_a_kept_list_follows_admin_edits(client, session, site, headers):
    admin = headers["admin"]
    reading(session, 12)
    assert free_beds(client) == {"Maple House": 8}
    program = session.exec(select(Program)).one()
    client.patch(f"/api/v1/programs/{program.id}", json={"out_of_service": 3}, headers=admin)
    assert free_beds(client) == {"Maple House": 5}
    client.patch(f"/api/v1/shelters/{site.id}", json={"confidential": True}, headers=admin)
    assert free_beds(client) == {}  # hidden from the public at once
    created = client.post("/api/v1/shelters", json={"name": "Cedar Place"}, headers=admin)
    assert created.status_code == 201
    assert free_beds(client) == {"Cedar Place": None}


def test_a_kept_list_follows_a_dial_going_offline(client, session, site):
    reading(session, 12)
    [item] = client.get("/api/v1/shelters").json()["items"]
    assert item["freshness"] == "fresh"
    handle(
        session,
        protocol.topic("dial-01", "status"),
        protocol.encode_status("offline", 1, "1.0.0", 1),
        4096,
    )
    session.commit()
    [item] = client.get("/api/v1/shelters").json()["items"]
    assert item["freshness"] == "unknown"


def test_a_kept_list_is_never_given_to_another_role_or_other_filters(client, city, headers):
    public = free_beds(client)
    assert "Safe Harbour" not in public
    outreach = free_beds(client, headers["outreach"])
    assert outreach["Safe Harbour"] == 6
    assert free_beds(client) == public  # and the public still does not get it
    women = client.get("/api/v1/shelters?sector=women").json()["items"]
    assert [s["name"] for s in women] == ["Willow Place"]
    assert free_beds(client) == public


def test_a_kept_list_ages_into_the_next_freshness_band_on_time(client, session, site, settings):
    reading(session, 12)
    row = session.exec(select(CurrentState)).one()
    # 1 s short of the end of "fresh": the list turns "aging" a second later, with nothing
    # committed in between
    row.updated_at = row.updated_at - timedelta(minutes=settings.fresh_minutes, seconds=-1)
    session.add(row)
    session.commit()
    assert client.get("/api/v1/shelters").json()["items"][0]["freshness"] == "fresh"
    time.sleep(1.2)
    assert client.get("/api/v1/shelters").json()["items"][0]["freshness"] == "aging"


def test_a_kept_list_is_what_the_query_builds_gzipped_or_not(client, session, site, settings):
    reading(session, 12)
    plain = client.get("/api/v1/shelters", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/api/v1/shelters", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert plain.json() == zipped.json()
    assert plain.headers["etag"] != zipped.headers["etag"]  # two representations
    items = sites(session, settings)
    built = SiteList(items=items, updated_at=None, total=len(items)).model_dump(mode="json")
    assert plain.json()["items"] == built["items"]


def test_an_unchanged_list_answers_304_to_its_etag(client, session, site):
    first = client.get("/api/v1/shelters")
    again = client.get("/api/v1/shelters", headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    reading(session, 12)
    changed = client.get("/api/v1/shelters", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]


def test_changes_since_send_what_changed_as_the_role_sees_it(client, session, city, count, headers):
    """A page's catch-up after its event stream was away: only the sites changed since, and
    the ids of those it no longer sees."""
    asked = utcnow()
    started = client.get("/api/v1/shelters/changes", params={"since": asked.isoformat()}).json()
    assert (started["items"], started["gone"]) == ([], [])  # nothing since now
    # the next `since`: a minute back, so a reading committed a moment late is not missed
    assert datetime.fromisoformat(started["until"]) <= utcnow() - CATCH_UP_MARGIN
    before = utcnow()
    count(city["Willow Place"]["women"], 9)  # a new count
    count(city["Safe Harbour"]["women"], 10)  # confidential
    youth = session.get(Site, city["youth haven"]["site"])
    youth.confidential = True  # made confidential: the public must take it off
    youth.edited_at = utcnow()
    session.add(youth)
    session.commit()
    query = {"since": before.isoformat()}

    public = client.get("/api/v1/shelters/changes", params=query).json()
    assert [s["name"] for s in public["items"]] == ["Willow Place"]
    assert public["items"][0] == client.get(f"/api/v1/shelters/{public['items'][0]['id']}").json()
    assert public["gone"] == sorted([city["Safe Harbour"]["site"], city["youth haven"]["site"]])
    outreach = client.get("/api/v1/shelters/changes", params=query, headers=headers["outreach"])
    listed = outreach.json()["items"]
    assert [s["name"] for s in listed] == ["Safe Harbour", "Willow Place", "youth haven"]
    assert listed[0]["lat"] is None and outreach.json()["gone"] == []  # never where it is


def test_changes_need_a_time_with_its_zone(client):
    answer = client.get("/api/v1/shelters/changes?since=2026-12-03T10:00:00")
    assert answer.status_code == 422
    assert "since" in answer.json()["error"]["message"]
