"""What route functions receive: a database session, the settings and the caller's role.

Every API route depends on `get_role` (main.py adds it to the routers), so a request
without a key is rate-limited and a request with a wrong key is refused even where the
public may read. Routes that need more than public say so with `require`.
"""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from server.api.schemas import MAX_ID
from server.models import Role
from server.settings import Settings

bearer = HTTPBearer(
    auto_error=False,
    description="An API key, as `Authorization: Bearer <key>`. Public routes need none.",
)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same key, in a header of its own."
)
CHALLENGE = {"WWW-Authenticate": "Bearer"}  # RFC 6750: a 401 says which scheme to use
# For routes the public may call: OpenAPI's empty security requirement means "or no key"
KEY_OPTIONAL = {"security": [{}]}


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]  # the id of a site, program or key in a path


def get_role(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> Role:
    limiter, client = request.app.state.limiter, request.client.host if request.client else "-"
    if header_key is not None and "authorization" in request.headers:
        # Which one would count? Neither: a wrong key must never pass beside a right one.
        _limited(limiter.spend(client))
        raise HTTPException(
            400, "send the API key once: Authorization: Bearer or X-API-Key, not both"
        )
    presented = credentials.credentials if credentials else header_key
    if presented is None:
        if "authorization" in request.headers:
            raise HTTPException(401, "Authorization: send `Bearer <key>`", headers=CHALLENGE)
        _limited(limiter.spend(client))
        return Role.public
    keyring = request.app.state.keyring
    caller = keyring.remembered(session, presented)
    if caller is None:
        _limited(limiter.wait(client))  # over the limit: no slow check of an unknown key
        caller = keyring.check(session, presented)
    if caller is None:
        _limited(limiter.spend(client))  # guessing keys costs like public requests
        raise HTTPException(401, "the API key is not valid or was revoked", headers=CHALLENGE)
    request.state.key_id = caller.key_id  # whose holds are whose (routes/holds.py)
    return caller.role


def _limited(seconds: int) -> None:
    if seconds:
        raise HTTPException(
            429,
            f"too many requests without a valid API key: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


RoleDep = Annotated[Role, Depends(get_role)]


def require(minimum: Role):
    """A dependency that lets only callers with `minimum` or a higher role through."""

    def check(role: RoleDep) -> Role:
        if role is Role.public:
            raise HTTPException(
                401, f"this needs an API key with the role {minimum} or above", headers=CHALLENGE
            )
        if not role.at_least(minimum):
            raise HTTPException(403, f"this needs the role {minimum} or above; the key is {role}")
        return role

    return Depends(check)


OutreachDep = Annotated[Role, require(Role.outreach)]
CityDep = Annotated[Role, require(Role.city)]
AdminDep = Annotated[Role, require(Role.admin)]
