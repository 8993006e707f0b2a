"""API keys (admin): issue one per caller, shown once; revoke when it leaks or a job ends."""

from fastapi import APIRouter, HTTPException, status
from sqlmodel import select

from server.api.deps import AdminDep, RowId, SessionDep
from server.api.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyList, ApiKeyPublic, Error
from server.auth import issue_key
from server.models import ApiKey, Role, utcnow

router = APIRouter(prefix="/api-keys", tags=["api keys"])
FORBIDDEN = {403: {"model": Error, "description": "The key's role is below admin"}}


@router.get("", response_model=ApiKeyList, responses=FORBIDDEN)
def list_keys(session: SessionDep, _role: AdminDep) -> ApiKeyList:
    keys = session.exec(select(ApiKey).order_by(ApiKey.id)).all()
    return ApiKeyList(items=[ApiKeyPublic.model_validate(k) for k in keys])


@router.post(
    "", response_model=ApiKeyIssued, status_code=status.HTTP_201_CREATED, responses=FORBIDDEN
)
def create_key(body: ApiKeyCreate, session: SessionDep, _role: AdminDep) -> ApiKeyIssued:
    key, plain = issue_key(session, body.name, Role(body.role))
    session.commit()
    return ApiKeyIssued.model_validate(key, update={"key": plain})


@router.post(
    "/{key_id}/revoke",
    response_model=ApiKeyPublic,
    responses={**FORBIDDEN, 404: {"model": Error, "description": "No such key"}},
)
def revoke_key(key_id: RowId, session: SessionDep, _role: AdminDep) -> ApiKeyPublic:
    """The key stops working at once; revoking it again changes nothing."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise HTTPException(404, f"no API key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.commit()
    return ApiKeyPublic.model_validate(key)
