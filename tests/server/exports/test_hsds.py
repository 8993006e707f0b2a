"""HSDS 3.1 export, checked against Open Referral's official schemas (tests/fixtures)."""

import json
import uuid

import pytest
from sqlmodel import select

from firmware.dialcore import protocol
from server.exports import hsds
from server.ingest.handler import handle
from server.models import CapacityType, Program, Sector, Site
from tests.support.data import hsds_errors, hsds_validators


@pytest.fixture(scope="module")
def validators():
    return hsds_validators()


def assert_valid(document, validators):
    assert hsds_errors(document, validators) == []


@pytest.fixture
def city(session, site):
    """Maple House (fully described, one reading), an undescribed site, a confidential one."""
    maple = session.get(Site, site.id)
    maple.sqlmodel_update(
        {
            "organization": "Maple Society",
            "city": "Toronto",
            "postal_code": "M5H 1A1",
            "phone": "416-555-0101",
            "intake_hours": "24/7",
            "intake_instructions": "Ring the side door.",
            "pets_allowed": True,
            "couples_allowed": False,
            "wheelchair_accessible": True,
            "min_age": 18,
        }
    )
    bare = Site(name="Birch Place")
    hidden = Site(name="Safe Haven", address="9 Secret St", lat=43.7, lon=-79.4, confidential=True)
    session.add_all([maple, bare, hidden])
    session.flush()
    session.add_all(
        [
            Program(
                site_id=bare.id,
                name="Birch Families",
                sector=Sector.families,
                capacity_type=CapacityType.rooms,
                capacity=6,
                accepting=False,
            ),
            Program(site_id=hidden.id, name="Haven Women", sector=Sector.women, capacity=10),
        ]
    )
    session.commit()
    handle(
        session,
        protocol.topic("dial-01", "state"),
        protocol.encode_state(1, 1, "occupied", 1, [(12, 20)]),
        4096,
    )
    session.commit()


def test_the_export_validates_against_the_official_hsds_schemas(
    session, city, settings, validators
):
    document = hsds.export(session, settings)
    assert_valid(document, validators)
    assert (document["total_items"], document["empty"]) == (2, False)


def test_a_program_becomes_a_service_with_its_organization_location_and_free_beds(
    session, city, settings
):
    services = {s["name"]: s for s in hsds.export(session, settings)["contents"]}
    men = services["Men's beds"]
    assert men["organization"]["name"] == "Maple Society"
    assert men["organization_id"] == men["organization"]["id"]
    assert men["eligibility_description"] == "Adult men. No couples. Pets welcome."
    assert (men["application_process"], men["minimum_age"]) == ("Ring the side door.", 18)
    [capacity] = men["capacities"]
    assert (capacity["available"], capacity["maximum"], capacity["unit"]["name"]) == (8, 20, "Bed")
    assert capacity["updated"] == men["last_modified"]
    [at] = men["service_at_locations"]
    assert at["schedules"][0]["description"] == "Intake: 24/7"
    location = at["location"]
    assert (location["name"], location["latitude"], location["longitude"]) == (
        "Maple House",
        43.65,
        -79.38,
    )
    [address] = location["addresses"]
    assert (address["address_1"], address["state_province"], address["country"]) == (
        "1 King St",
        "ON",
        "CA",
    )
    assert location["phones"][0]["number"] == "416-555-0101"
    assert location["accessibility"][0]["description"] == "Wheelchair accessible"


def test_what_is_not_known_is_left_out_rather_than_guessed(session, city, settings):
    services = {s["name"]: s for s in hsds.export(session, settings)["contents"]}
    birch = services["Birch Families"]
    assert "capacities" not in birch  # no count yet
    assert "organization" not in birch
    assert birch["alert"] == "Not accepting new guests right now."
    location = birch["service_at_locations"][0]["location"]
    assert set(location) == {"id", "location_type", "name"}  # no address, point or phone


def test_confidential_sites_are_not_in_the_public_export(session, city, settings):
    text = json.dumps(hsds.export(session, settings))
    assert "Safe Haven" not in text and "Secret" not in text and "Haven Women" not in text


def test_ids_are_uuids_derived_from_ours_and_stable_between_exports(session, city, settings):
    first = hsds.export(session, settings)
    assert hsds.export(session, settings) == first
    men = next(s for s in first["contents"] if s["name"] == "Men's beds")
    program = session.exec(select(Program).where(Program.name == "Men's beds")).one()
    assert men["id"] == str(uuid.uuid5(hsds.NAMESPACE, f"program:{program.id}"))


def test_the_api_serves_the_same_document(client, session, city, settings, validators):
    response = client.get("/api/v1/exports/hsds.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == hsds.export(session, settings)
    assert_valid(response.json(), validators)
