"""Prometheus metrics of this API process (and of the ingestor, when it runs in the same
process): docs/api.md#metrics. Needs a `city` key: the figures say nothing about people,
but how busy the service is and how many dials are down are the operator's business."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import func, select

from server import metrics
from server.api.deps import CityDep, SessionDep
from server.api.schemas import Error
from server.models import Device

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        403: {"model": Error, "description": "The key's role is too low"},
    },
)
def prometheus(request: Request, session: SessionDep, _role: CityDep) -> Response:
    # Devices come from the database at each scrape, so every API process reports the whole
    # fleet, whichever ingestor heard from it.
    counts = dict(session.exec(select(Device.status, func.count()).group_by(Device.status)).all())
    for status in metrics.DEVICE_STATUSES:
        metrics.DEVICES.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
