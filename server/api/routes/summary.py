"""City-wide availability by sector: confidential sites count, without saying where."""

from fastapi import APIRouter

from server.api.deps import KEY_OPTIONAL, SessionDep, SettingsDep
from server.queries import summary
from server.shapes import Summary

router = APIRouter(tags=["summary"])


@router.get("/summary", response_model=Summary, openapi_extra=KEY_OPTIONAL)
def city_summary(session: SessionDep, settings: SettingsDep) -> Summary:
    return summary(session, settings)
