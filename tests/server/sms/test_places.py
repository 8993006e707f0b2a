"""Where a text's postal code or place is (server/sms/places.py), from public sites only and
the postal-area centres of SIGNAL_SMS_AREAS_FILE."""

import pytest

from server.imports.files import load_centroids
from server.models import Site
from server.sms.places import locate

CENTRES = "Postalcode,Latitude,Longitude\nM4C,43.6900,-79.3000\n"


@pytest.fixture
def places(session):
    session.add_all(
        [
            Site(name="Oak House", address="10 Queen St E", city="Toronto",
                 postal_code="M5C 1A1", lat=43.60, lon=-79.30),
            Site(name="Elm Place", address="20 Queen St E", city="Toronto",
                 postal_code="m5c1a1", lat=43.62, lon=-79.32),
            Site(name="Birch Hall", address="5 Main St", city="Mississauga",
                 postal_code="L5B 2C9", lat=43.58, lon=-79.64),
            Site(name="Quiet Harbour", address="7 Secret Lane", city="Oakville",
                 postal_code="M4C 9Z9", lat=43.45, lon=-79.68, confidential=True),
            Site(name="Nowhere Inn", postal_code="M6A 1A1"),  # not located
        ]
    )  # fmt: skip
    session.commit()


@pytest.mark.parametrize(
    ("place", "point"),
    [
        ("M5C 1A1", (43.61, -79.31)),  # two sites have the code, written either way
        ("m5c1a1", (43.61, -79.31)),
        ("M5C 9Z9", (43.61, -79.31)),  # no site has it: its area's sites
        ("L5B", (43.58, -79.64)),  # an area alone
        ("M4C 1B2", (43.69, -79.30)),  # the area file's centre (the confidential site's
        # code is in that area, and is never used)
        ("toronto", (43.61, -79.31)),  # a city
        ("Birch", (43.58, -79.64)),  # part of a name
        ("queen st", (43.61, -79.31)),  # part of an address
    ],
)
def test_a_place_is_located_from_what_the_server_knows(places, session, tmp_path, place, point):
    (tmp_path / "areas.csv").write_text(CENTRES)
    found = locate(session, place, load_centroids(tmp_path / "areas.csv"))
    assert found == pytest.approx(point)


@pytest.mark.parametrize(
    "place",
    [
        "M6A 1A1",  # only an unlocated site has it
        "M4C 9Z9",  # only a confidential site has it, and no centre file
        "Oakville",  # only a confidential site's city
        "Quiet Harbour",
        "Secret Lane",
        "Atlantis",
        "St",  # too short to mean one place
    ],
)
def test_nothing_locates_what_no_public_site_says(places, session, place):
    assert locate(session, place, {}) is None
