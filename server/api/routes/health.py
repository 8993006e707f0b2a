"""Liveness for operators and process supervisors."""

from fastapi import APIRouter
from sqlalchemy import text

from server.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    session.exec(text("SELECT 1"))
    return {"status": "ok"}
