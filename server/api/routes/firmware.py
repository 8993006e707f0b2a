"""Updates over the air (admin): releases, rollouts, and how each dial's update goes.

Releases are stored from a checkout (`shelter-signal firmware release`); here an admin rolls
one out and stops it, and city staff follow the fleet. The API writes only the database: the
ingestor notices changed targets and publishes the dials' `ota` orders (server/firmware.py).
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlmodel import Session, select

from server import firmware
from server.api.deps import AdminDep, CityDep, SessionDep
from server.api.schemas import (
    FIRMWARE_VERSION,
    DeviceFirmware,
    Error,
    FirmwareFilePublic,
    FirmwareOverview,
    ReleasePublic,
    Rollout,
    RolloutCreate,
    RolloutStopped,
)
from server.models import Device, FirmwareRelease

router = APIRouter(prefix="/firmware", tags=["firmware"])
Version = Annotated[str, Path(pattern=FIRMWARE_VERSION)]
FORBIDDEN = {403: {"model": Error, "description": "The key's role is too low"}}
NOT_FOUND = {404: {"model": Error, "description": "No such release"}}


def _release(session: Session, release: FirmwareRelease) -> ReleasePublic:
    files = [
        FirmwareFilePublic(path=path, size=size, sha256=sha256)
        for path, size, sha256 in firmware.manifest(session, release.version)
    ]
    return ReleasePublic(
        version=release.version,
        created_at=release.created_at,
        size=sum(f.size for f in files),
        files=files,
    )


@router.get("", response_model=FirmwareOverview, responses=FORBIDDEN)
def overview(session: SessionDep, _role: CityDep) -> FirmwareOverview:
    """Every release, and every dial's running version, target and update state."""
    releases = [_release(session, release) for release, _n, _size in firmware.releases(session)]
    devices = session.exec(select(Device).order_by(Device.id)).all()
    return FirmwareOverview(
        releases=releases,
        devices=[DeviceFirmware.model_validate(d, from_attributes=True) for d in devices],
    )


@router.get(
    "/releases/{version}", response_model=ReleasePublic, responses={**FORBIDDEN, **NOT_FOUND}
)
def get_release(version: Version, session: SessionDep, _role: CityDep) -> ReleasePublic:
    release = session.get(FirmwareRelease, version)
    if release is None:
        raise HTTPException(404, f"no release {version}")
    return _release(session, release)


@router.post("/rollouts", response_model=Rollout, responses=FORBIDDEN)
def roll_out(body: RolloutCreate, session: SessionDep, _role: AdminDep) -> Rollout:
    """Order the listed dials, or a percentage of the fleet, to update to a release."""
    if session.get(FirmwareRelease, body.version) is None:
        raise HTTPException(422, f"version: no release {body.version}")
    try:
        chosen = firmware.roll_out(session, body.version, body.devices, body.percent)
    except firmware.FirmwareError as e:  # all that is left to go wrong: an unknown device
        raise HTTPException(422, f"devices: {e}") from None
    session.commit()
    return Rollout(version=body.version, devices=[device.id for device in chosen])


@router.delete(
    "/rollouts/{version}", response_model=RolloutStopped, responses={**FORBIDDEN, **NOT_FOUND}
)
def stop_rollout(version: Version, session: SessionDep, _role: AdminDep) -> RolloutStopped:
    """Withdraw a release from every dial it was rolled out to; dials already running it
    stay on it."""
    if session.get(FirmwareRelease, version) is None:
        raise HTTPException(404, f"no release {version}")
    stopped = firmware.stop(session, version)
    session.commit()
    return RolloutStopped(
        version=stopped.version, withdrawn=stopped.withdrawn, running=stopped.running
    )
