"""Confidential sites (such as shelters for survivors of violence) never reveal where they are.

A property test over generated cities: sites with random names, coordinates, addresses and
postal codes, confidential or not, each with counts. On a real SQLite database, through the
real app, it gathers every surface a member of the public (or an outreach worker's key) can
read: the site list (also near and around each confidential site), each site by id, the
summary, the GeoJSON and HSDS exports, the map and city pages, and the live event stream;
plus the City of Toronto CSV, which city staff download and the city republishes. None may
hold a confidential site's coordinates (in any formatting from 3 to 6 decimals, rounded or
cut, or in full), its address or its postal code; the public's may not even hold its name.
Public sites must show up where they belong, so the test fails if it gathers nothing.
(docs/api.md, "Confidential sites"; docs/map.md, "Confidential shelters".)
"""

import itertools
import json
import math
import re
import shutil
import threading
from dataclasses import dataclass
from datetime import timedelta

import anyio
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from server.api.main import create_app
from server.auth import issue_key
from server.db import make_engine
from server.exports.toronto_csv import latest_date, snapshot_time
from server.ingest.handler import make_current
from server.models import Program, Reading, Role, Sector, Site, utcnow
from server.settings import Settings
from tests.support.waiting import scaled

EXAMPLES = 15  # generated cities per run: each builds a database and an app (~0.5 s)
POLL_S = 0.05  # how often the event stream looks for changes: quick, for the test
STREAM_WAIT_S = scaled(20)  # at most this long for the stream's events (they come within a poll)
DECIMALS = range(3, 7)  # 3 decimals place a site within ~100 m, 6 within ~10 cm


CITY_EXPORTS = (
    "/api/v1/exports/toronto-occupancy.csv",
    "/api/v1/exports/shelters.geojson",
    "/api/v1/exports/hsds.json",
)


@dataclass
class Place:
    token: str  # in its name: a string found nowhere else
    confidential: bool
    lat: float
    lon: float
    address: str
    postal_code: str
    programs: list[tuple[Sector, int, int]]  # sector, capacity, occupied
    id: int | None = None


def _degrees(whole: int, millionths: int, negative: bool) -> float:
    """A coordinate written with at most 6 decimals, so that its JSON text is known."""
    return float(f"{'-' if negative else ''}{whole}.{millionths:06d}")


PROGRAMS = st.lists(
    st.tuples(st.sampled_from(Sector), st.integers(1, 60)).flatmap(
        lambda p: st.tuples(st.just(p[0]), st.just(p[1]), st.integers(0, p[1]))
    ),
    min_size=1,
    max_size=2,
)


@st.composite
def cities(draw) -> list[Place]:
    """2 to 5 sites; the first is confidential and the second is not, the rest either."""
    n = draw(st.integers(2, 5))
    # Whole degrees of two digits, each used once: no two coordinates share their text (and
    # a match inside a longer number does not count), so a match is a leak, not a coincidence.
    wholes = draw(st.lists(st.integers(10, 89), min_size=2 * n, max_size=2 * n, unique=True))
    tokens = draw(st.lists(st.from_regex(r"[A-Z]{6}", fullmatch=True), min_size=n, max_size=n))
    places = []
    for i in range(n):
        places.append(
            Place(
                token=f"{tokens[i]}{i}",  # the index keeps the tokens distinct
                confidential=i == 0 or (i > 1 and draw(st.booleans())),
                lat=_degrees(wholes[2 * i], draw(st.integers(0, 999_999)), draw(st.booleans())),
                lon=_degrees(wholes[2 * i + 1], draw(st.integers(0, 999_999)), draw(st.booleans())),
                address=f"{draw(st.integers(1, 9999))} {tokens[i].title()}{i} Street",
                postal_code=f"M{i}{tokens[i][0]} {draw(st.integers(0, 9))}{tokens[i][1]}{i}",
                programs=draw(PROGRAMS),
            )
        )
    return places


def test_confidential_sites_never_reveal_where_they_are(migrated, tmp_path):
    databases = itertools.count()

    @given(places=cities(), name=st.text(max_size=30))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same cities every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # a failing city (5 sites at most) reads well
        suppress_health_check=[HealthCheck.too_slow],
    )
    def check(places, name):
        path = tmp_path / f"city-{next(databases)}.db"
        shutil.copyfile(migrated, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            _check(engine, places, name)
        finally:
            engine.dispose()

    check()


def _check(engine, places: list[Place], name: str) -> None:
    settings = Settings(_env_file=None, live_poll_seconds=POLL_S, public_rate_burst=10_000)
    with TestClient(create_app(settings, engine)) as client:
        public = [p for p in places if not p.confidential]
        # Listening before the sites are added: the stream sends changes, not what was there.
        stream = _EventStream(
            client, lambda sites, hidden: hidden and {p.id for p in public} <= sites
        )
        with Session(engine) as session:
            keys = {
                role: issue_key(session, role.value, role)[1] for role in (Role.outreach, Role.city)
            }
            _add(session, places, name)
            session.commit()
        events = stream.read()

        as_public = _surfaces(client, {}, places) | {"events": events}
        outreach = {"Authorization": f"Bearer {keys[Role.outreach]}"}
        as_outreach = _surfaces(client, outreach, places)
        # City staff see every site in full through /shelters, by right; the exports are
        # still as the public sees them, and the Toronto CSV leaves the location blank.
        city = {"Authorization": f"Bearer {keys[Role.city]}"}
        as_city = {url: client.get(url, headers=city) for url in CITY_EXPORTS}
        assert all(answer.status_code == 200 for answer in as_city.values())
        csv = as_city["/api/v1/exports/toronto-occupancy.csv"].text

        for place in places:
            if not place.confidential:
                continue
            for surface, body in [
                *as_public.items(),
                *((f"outreach {s}", b) for s, b in as_outreach.items()),
                *((f"city {s}", a.text) for s, a in as_city.items()),
            ]:
                _assert_hidden(place, surface, body)
            for surface, body in as_public.items():
                assert place.token not in body, (surface, "the public never sees it at all")

        _assert_public_sites_are_shown(public, as_public, csv)
        _assert_outreach_sees_confidential_sites_without_location(client, outreach, places)


def _add(session: Session, places: list[Place], name: str) -> None:
    """The sites, their programs and a count each, from the night the Toronto CSV reports."""
    counted_at = snapshot_time(latest_date(utcnow())) - timedelta(hours=2)
    for seq, place in enumerate(places, start=1):
        site = Site(
            name=f"{name} {place.token}",
            address=place.address,
            city="Toronto",
            postal_code=place.postal_code,
            lat=place.lat,
            lon=place.lon,
            phone="416-555-0100",
            confidential=place.confidential,
        )
        session.add(site)
        session.flush()
        place.id = site.id
        for sector, capacity, occupied in place.programs:
            program = Program(site_id=site.id, name=str(sector), sector=sector, capacity=capacity)
            session.add(program)
            session.flush()
            reading = Reading(
                program_id=program.id,
                boot=1,
                seq=seq,
                channel=0,
                occupied=occupied,
                capacity=capacity,
                source="import",
                received_at=counted_at,
            )
            session.add(reading)
            session.flush()
            make_current(session, reading)


def _surfaces(client: TestClient, headers: dict, places: list[Place]) -> dict[str, str]:
    """The text of every answer this caller can get that might name a place."""
    urls = [
        "/api/v1/shelters",
        "/api/v1/summary",
        "/api/v1/exports/shelters.geojson",
        "/api/v1/exports/hsds.json",
        "/",
        "/city",
    ]
    for place in places:
        urls.append(f"/api/v1/shelters/{place.id}")
        urls.append(f"/api/v1/shelters?near={place.lat},{place.lon}")
        urls.append(f"/api/v1/shelters?near={place.lat},{place.lon}&radius_km=1")
        box = f"{place.lon - 0.01},{place.lat - 0.01},{place.lon + 0.01},{place.lat + 0.01}"
        urls.append(f"/api/v1/shelters?bbox={box}")
    answers = {}
    for url in urls:
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 404), (url, response.text)
        answers[url] = response.text
    return answers


def _forms(degrees: float) -> set[str]:
    """A coordinate as a leak might write it: in full, or rounded or cut to 3 to 6 decimals."""
    forms = {repr(degrees)}
    for d in DECIMALS:
        forms.add(f"{degrees:.{d}f}")
        forms.add(f"{math.trunc(degrees * 10**d) / 10**d:.{d}f}")
    return {form.lstrip("-") for form in forms}  # found with its sign or without


def _assert_hidden(place: Place, surface: str, body: str) -> None:
    for form in _forms(place.lat) | _forms(place.lon):
        # not part of a longer number: 43.123 is in 43.1234 (another place), not a leak
        found = re.search(rf"(?<![\d.]){re.escape(form)}(?!\d)", body)
        assert found is None, (surface, f"coordinate {form} of a confidential site")
    for text in (place.address, place.postal_code, place.postal_code.replace(" ", "")):
        assert text not in body, (surface, f"{text!r} of a confidential site")


def _assert_public_sites_are_shown(public: list[Place], surfaces: dict, csv: str) -> None:
    listed = {s["id"]: s for s in json.loads(surfaces["/api/v1/shelters"])["items"]}
    features = json.loads(surfaces["/api/v1/exports/shelters.geojson"])["features"]
    mapped = {f["id"]: f["geometry"]["coordinates"] for f in features}
    streamed = _EventStream.sites(surfaces["events"])
    for place in public:
        shown = listed[place.id]
        assert (shown["lat"], shown["lon"], shown["address"]) == (
            place.lat,
            place.lon,
            place.address,
        )
        assert mapped[place.id] == [place.lon, place.lat]
        assert repr(place.lat) in surfaces["/api/v1/exports/hsds.json"]
        assert (streamed[place.id]["lat"], streamed[place.id]["lon"]) == (place.lat, place.lon)
        assert place.address in csv


def _assert_outreach_sees_confidential_sites_without_location(client, headers, places):
    for place in places:
        if not place.confidential:
            continue
        shown = client.get(f"/api/v1/shelters/{place.id}", headers=headers).json()
        assert place.token in shown["name"]
        assert [shown[field] for field in ("address", "city", "postal_code", "lat", "lon")] == [
            None
        ] * 5
        assert client.get(f"/api/v1/shelters/{place.id}").status_code == 404  # public: none


class _EventStream:
    """The public event stream (/api/v1/events) as a browser reads it, through the app itself:
    the test client cannot read an answer that never ends, so the request is made in the
    app's own event loop and ended (the browser goes away) once enough has come."""

    def __init__(self, client: TestClient, enough):
        """Start reading; `enough(site ids sent, whether a hidden event was sent)` says when
        to stop."""
        self.body = bytearray()
        self.enough = enough
        self.subscribed = threading.Event()  # the first bytes came: changes from now are sent
        self.ended = anyio.Event()
        self.done = client.portal.start_task_soon(self._request, client.app)
        assert self.subscribed.wait(STREAM_WAIT_S), "the event stream did not start"

    def read(self) -> str:
        """The stream's text once it is enough (or after STREAM_WAIT_S)."""
        self.done.result(STREAM_WAIT_S + 5)
        return self.body.decode()

    async def _request(self, app) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/v1/events",
            "raw_path": b"/api/v1/events",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"testserver"), (b"accept", b"text/event-stream")],
            "client": ("203.0.113.7", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        asked = False

        async def receive():
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.ended.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] != "http.response.body":
                return
            self.body.extend(message.get("body", b""))
            self.subscribed.set()
            text = self.body.decode(errors="replace")
            if self.enough(set(self.sites(text)), "event: hidden" in text):
                self.ended.set()  # the browser goes away

        with anyio.move_on_after(STREAM_WAIT_S):
            await app(scope, receive, send)

    @staticmethod
    def sites(text: str) -> dict[int, dict]:
        """The sites in the stream's `site` events, by id (the newest of each)."""
        found = {}
        for event in text.split("\n\n"):
            lines = event.split("\n")
            if "event: site" in lines:
                data = json.loads(next(x for x in lines if x.startswith("data: "))[6:])
                found[data["id"]] = data
        return found
