"""HSDS 3.1 (Open Referral's Human Services Data Specification) of our programs and free beds.

The document is shaped like the HSDS API's answer to GET /services: one page holding every
service, each fully nested as in the official compiled/service_with_definitions.json bundle,
with its organization, its location (service_at_locations) and its free beds or rooms
(capacities, each with its unit). One service per program. Everything comes from
queries.sites as the public sees it, so confidential sites are left out.
docs/exports.md maps every field.
"""

import uuid

from sqlmodel import Session

from server.exports.postal import province
from server.models import CapacityType, Sector
from server.queries import sites
from server.settings import Settings
from server.shapes import ProgramPublic, SitePublic

# HSDS wants UUIDs. Ours are made from this fixed namespace (drawn once with uuid4) and the
# source's own key of an imported site or program (toronto:1320), else our id: the same site
# or program has the same UUID in every export, and after a database is rebuilt or cities are
# imported in another order. Never change it.
NAMESPACE = uuid.UUID("e27ed014-ae06-4622-9b1d-75258a2ff47f")
UNITS = {CapacityType.beds: ("Bed", "beds"), CapacityType.rooms: ("Room", "rooms")}
# The City of Toronto's five shelter sectors, as the people each one serves.
SERVED = {
    Sector.men: "adult men",
    Sector.women: "adult women",
    Sector.youth: "youth",
    Sector.families: "families",
    Sector.mixed: "adults of any gender",
}


def stable_id(kind: str, key: object) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def _key(row: ProgramPublic | SitePublic) -> str:
    return row.source_id or str(row.id)


def export(session: Session, settings: Settings) -> dict:
    """The HSDS page of services for everything the public may see."""
    services = [
        _service(program, site, settings)
        for site in sites(session, settings)
        for program in site.programs
    ]
    return {  # the HSDS OpenAPI's Page, with everything on one page
        "total_items": len(services),
        "total_pages": 1,
        "page_number": 1,
        "size": len(services),
        "first_page": True,
        "last_page": True,
        "empty": not services,
        "contents": services,
    }


def _service(program: ProgramPublic, site: SitePublic, settings: Settings) -> dict:
    unit, units = UNITS[program.capacity_type]
    service_id = stable_id("program", _key(program))
    at_location = {
        "id": stable_id("service_at_location", _key(program)),
        "service_id": service_id,
        "location_id": stable_id("site", _key(site)),
        "location": _location(site, settings),
    }
    if site.intake_hours:
        at_location["schedules"] = [
            {
                "id": stable_id("intake_hours", _key(program)),
                "service_at_location_id": at_location["id"],
                "description": f"Intake: {site.intake_hours}",
            }
        ]
    service = {
        "id": service_id,
        "name": program.name,
        "description": f"Shelter {units} for {SERVED[program.sector]} at {site.name}.",
        "status": "active",
        "eligibility_description": _eligibility(program, site),
        "service_at_locations": [at_location],
    }
    optional = {
        "application_process": site.intake_instructions,
        "minimum_age": site.min_age,
        "maximum_age": site.max_age,
        "alert": None if program.accepting else "Not accepting new guests right now.",
    }
    service |= {name: value for name, value in optional.items() if value is not None}
    if site.organization:
        organization = {
            "id": stable_id("organization", site.organization),
            "name": site.organization,
            "description": f"{site.organization} runs shelter programs.",
        }
        service |= {"organization_id": organization["id"], "organization": organization}
    if program.updated_at is not None and program.available is not None:
        updated = program.updated_at.isoformat()
        service["last_modified"] = updated
        service["capacities"] = [
            {
                "id": stable_id("capacity", _key(program)),
                "service_id": service_id,
                "unit_id": stable_id("unit", program.capacity_type),
                "unit": {"id": stable_id("unit", program.capacity_type), "name": unit},
                "available": program.available,
                "maximum": program.capacity,
                "description": f"Free {units} at the last count at the front desk, less any "
                "held for people on their way.",
                "updated": updated,
            }
        ]
    return service


def _eligibility(program: ProgramPublic, site: SitePublic) -> str:
    """Who may come, in words: the sector, then what the site says about couples and pets."""
    words = [f"{SERVED[program.sector].capitalize()}."]
    if site.couples_allowed is not None:
        words.append("Couples welcome." if site.couples_allowed else "No couples.")
    if site.pets_allowed is not None:
        words.append("Pets welcome." if site.pets_allowed else "No pets.")
    return " ".join(words)


def _location(site: SitePublic, settings: Settings) -> dict:
    location: dict = {
        "id": stable_id("site", _key(site)),
        "location_type": "physical",
        "name": site.name,
    }
    if site.lat is not None and site.lon is not None:
        location |= {"latitude": site.lat, "longitude": site.lon}
    state = settings.region or (province(site.postal_code) if settings.country == "CA" else None)
    if site.address and site.city and state:  # HSDS requires every part of an address
        location["addresses"] = [
            {
                "id": stable_id("address", _key(site)),
                "location_id": location["id"],
                "address_1": site.address,
                "city": site.city,
                "state_province": state,
                "postal_code": site.postal_code,
                "country": settings.country,
                "address_type": "physical",
            }
        ]
    if site.wheelchair_accessible:
        location["accessibility"] = [
            {
                "id": stable_id("accessibility", _key(site)),
                "location_id": location["id"],
                "description": "Wheelchair accessible",
            }
        ]
    if site.phone:
        location["phones"] = [
            {
                "id": stable_id("phone", _key(site)),
                "location_id": location["id"],
                "number": site.phone,
            }
        ]
    return location
