"""Sites with their programs' availability: what outreach workers and the map read."""

from fastapi import APIRouter, HTTPException

from server.api.deps import SessionDep, SettingsDep
from server.api.schemas import Error, SiteList, SitePublic
from server.queries import sites

router = APIRouter(prefix="/shelters", tags=["shelters"])


@router.get("", response_model=SiteList)
def list_shelters(session: SessionDep, settings: SettingsDep) -> SiteList:
    items = sites(session, settings)
    times = [s.updated_at for s in items if s.updated_at]
    return SiteList(items=items, updated_at=max(times) if times else None)


@router.get("/{site_id}", response_model=SitePublic, responses={404: {"model": Error}})
def get_shelter(site_id: int, session: SessionDep, settings: SettingsDep) -> SitePublic:
    found = sites(session, settings, {site_id})
    if not found:
        raise HTTPException(404, f"no shelter with id {site_id}")
    return found[0]
