"""Programs of a site (admin): capacity, held or out-of-service beds, accepting or not."""

from fastapi import APIRouter, HTTPException, status

from server.api.deps import AdminDep, RowId, SessionDep, SettingsDep
from server.api.live import site_edited
from server.api.schemas import Error, ProgramCreate, ProgramUpdate, validated
from server.intake import parse_hours
from server.models import Program, Role, Site
from server.pairing import config_changed, devices_counting
from server.queries import sites
from server.shapes import ProgramPublic

router = APIRouter(tags=["programs"])
ANSWERS = {
    403: {"model": Error, "description": "The key's role is below admin"},
    404: {"model": Error, "description": "No such site or program"},
}


def _public(session, settings, program: Program) -> ProgramPublic:
    """The program as /shelters shows it, with its current availability."""
    [site] = sites(session, settings, {program.site_id}, Role.admin)
    return next(p for p in site.programs if p.id == program.id)


@router.post(
    "/shelters/{site_id}/programs",
    response_model=ProgramPublic,
    status_code=status.HTTP_201_CREATED,
    responses=ANSWERS,
)
def create_program(
    site_id: RowId, body: ProgramCreate, session: SessionDep, settings: SettingsDep, _role: AdminDep
) -> ProgramPublic:
    site = session.get(Site, site_id)
    if site is None:
        raise HTTPException(404, f"no shelter with id {site_id}")
    program = Program.model_validate(body, update={"site_id": site_id})
    if "intake_schedule" not in body.model_fields_set:  # from the site's text, if it parses
        program.intake_schedule = parse_hours(site.intake_hours)
    session.add(program)
    site_edited(session, site_id)
    session.commit()
    return _public(session, settings, program)


@router.patch("/programs/{program_id}", response_model=ProgramPublic, responses=ANSWERS)
def update_program(
    program_id: RowId,
    body: ProgramUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _role: AdminDep,
) -> ProgramPublic:
    program = session.get(Program, program_id)
    if program is None:
        raise HTTPException(404, f"no program with id {program_id}")
    changes = body.model_dump(exclude_unset=True)
    validated(ProgramCreate, program.model_dump() | changes)
    if changes.get("capacity", program.capacity) != program.capacity:
        config_changed(session, devices_counting(session, program))  # the dial's maximum
    program.sqlmodel_update(changes)
    session.add(program)
    site_edited(session, program.site_id)
    session.commit()
    return _public(session, settings, program)
