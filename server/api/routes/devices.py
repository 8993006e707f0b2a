"""The fleet of dials: health for city staff; registering, pairing and credentials (admin).

Changes a dial must know about bump its config_version (server/pairing.py); the ingestor
then publishes its new config.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import Session, col, select

from server.api.deps import AdminDep, CityDep, SessionDep, SettingsDep
from server.api.live import site_edited
from server.api.schemas import (
    DEVICE_ID,
    ChannelPublic,
    DeviceCreate,
    DeviceCredentials,
    DeviceList,
    DevicePublic,
    DeviceUpdate,
    Error,
)
from server.credentials import hash_secret, new_secret
from server.devices import register, reset_sequence
from server.models import Device, DeviceChannel, Site
from server.pairing import config_changed, pair
from server.provision import ProvisionError, set_mosquitto_password

router = APIRouter(prefix="/devices", tags=["devices"])
DeviceId = Annotated[str, Path(pattern=DEVICE_ID)]
FORBIDDEN = {403: {"model": Error, "description": "The key's role is too low"}}
NOT_FOUND = {404: {"model": Error, "description": "No such device"}}


def _public(session: Session, devices: list[Device]) -> list[DevicePublic]:
    """The devices as the API shows them, with their channels (one query for them all)."""
    channels: dict[str, list[ChannelPublic]] = {device.id: [] for device in devices}
    for channel in session.exec(
        select(DeviceChannel)
        .where(col(DeviceChannel.device_id).in_(channels))
        .order_by(DeviceChannel.channel)
    ):
        public = ChannelPublic.model_validate(channel, from_attributes=True)
        channels[channel.device_id].append(public)
    return [
        DevicePublic(
            **device.model_dump(exclude={"secret_hash"}),
            channels=channels[device.id],
            has_credentials=device.secret_hash is not None,
        )
        for device in devices
    ]


def _device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(404, f"no device {device_id}")
    return device


def _site_exists(session: Session, site_id: int) -> None:
    if session.get(Site, site_id) is None:
        raise HTTPException(422, f"site_id: no site with id {site_id}")


@router.get("", response_model=DeviceList, responses=FORBIDDEN)
def list_devices(session: SessionDep, _role: CityDep) -> DeviceList:
    devices = session.exec(select(Device).order_by(Device.id)).all()
    return DeviceList(items=_public(session, devices))


@router.get("/{device_id}", response_model=DevicePublic, responses={**FORBIDDEN, **NOT_FOUND})
def get_device(device_id: DeviceId, session: SessionDep, _role: CityDep) -> DevicePublic:
    return _public(session, [_device(session, device_id)])[0]


@router.post(
    "",
    response_model=DevicePublic,
    status_code=status.HTTP_201_CREATED,
    responses={**FORBIDDEN, 409: {"model": Error, "description": "The id is taken"}},
)
def create_device(body: DeviceCreate, session: SessionDep, _role: AdminDep) -> DevicePublic:
    if session.get(Device, body.id) is not None:
        raise HTTPException(409, f"device {body.id} exists already")
    _site_exists(session, body.site_id)
    channels = [(c.program_id, c.label) for c in body.channels]
    try:
        device = register(session, body.id, body.site_id, channels, body.mode)
    except ValueError as e:  # all that is left to go wrong is the pairing
        raise HTTPException(422, f"channels: {e}") from None
    site_edited(session, body.site_id)  # its programs' freshness now follows this dial
    session.commit()
    return _public(session, [device])[0]


@router.patch("/{device_id}", response_model=DevicePublic, responses={**FORBIDDEN, **NOT_FOUND})
def update_device(
    device_id: DeviceId, body: DeviceUpdate, session: SessionDep, _role: AdminDep
) -> DevicePublic:
    """Move a dial to another site, change its mode, or pair its channels anew."""
    device = _device(session, device_id)
    changes = body.model_dump(exclude_unset=True)
    if "site_id" in changes:
        _site_exists(session, body.site_id)
    if "channels" in changes:
        channels = [(c.program_id, c.label) for c in body.channels]
    else:  # the pairing stays, and must still hold at the (maybe new) site
        current = session.exec(
            select(DeviceChannel)
            .where(DeviceChannel.device_id == device.id)
            .order_by(DeviceChannel.channel)
        )
        channels = [(c.program_id, c.label) for c in current]
    site_edited(session, device.site_id)  # the site it leaves, and the one it joins
    device.site_id = changes.get("site_id", device.site_id)
    site_edited(session, device.site_id)
    device.mode = changes.get("mode", device.mode)
    try:
        pair(session, device, channels)
    except ValueError as e:
        raise HTTPException(422, f"channels: {e}") from None
    if changes:
        config_changed(session, [device])
    session.commit()
    return _public(session, [device])[0]


@router.post(
    "/{device_id}/credentials",
    response_model=DeviceCredentials,
    responses={**FORBIDDEN, **NOT_FOUND},
)
def issue_credentials(
    device_id: DeviceId, session: SessionDep, settings: SettingsDep, _role: AdminDep
) -> DeviceCredentials:
    """A new secret for the device (the old one stops working): shown only in this answer.

    With SIGNAL_MOSQUITTO_PASSWD_FILE set, the broker's entry changes with it (Mosquitto
    rereads the file on reload); if that fails, nothing changes and the answer says why."""
    device = _device(session, device_id)
    secret = new_secret()
    if settings.mosquitto_passwd_file is not None:
        try:
            set_mosquitto_password(settings.mosquitto_passwd_file, device.id, secret)
        except (ProvisionError, OSError) as e:
            raise HTTPException(
                503, f"broker credentials not updated, nothing changed: {e}"
            ) from None
    device.secret_hash = hash_secret(secret)
    session.add(device)
    session.commit()
    return DeviceCredentials(device_id=device.id, secret=secret)


@router.post(
    "/{device_id}/reset-sequence",
    response_model=DevicePublic,
    responses={**FORBIDDEN, **NOT_FOUND},
)
def reset_device_sequence(
    device_id: DeviceId, session: SessionDep, _role: AdminDep
) -> DevicePublic:
    """Forget the device's (boot, seq) numbering: its next count is shown whatever its numbers.

    For a dial wiped or replaced under old firmware, whose counts would otherwise be kept as
    older than what it sent before (docs/protocol.md, "A wiped or replaced board")."""
    device = _device(session, device_id)
    reset_sequence(session, device)
    session.commit()
    return _public(session, [device])[0]
