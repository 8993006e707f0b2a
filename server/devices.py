"""What the server tells a device: its `config` message, built from the pairing tables."""

from sqlmodel import Session, select

from firmware.dialcore import protocol
from server.models import Device, DeviceChannel, Program, Site


def config_message(session: Session, device: Device) -> tuple[str, bytes]:
    """The retained config for `device`: shelter name, one (label, capacity) per channel."""
    site = session.get(Site, device.site_id) if device.site_id else None
    rows = session.exec(
        select(DeviceChannel, Program)
        .join(Program, DeviceChannel.program_id == Program.id)
        .where(DeviceChannel.device_id == device.id)
        .order_by(DeviceChannel.channel)
    ).all()
    channels = [(pair.label, program.capacity) for pair, program in rows] or [("Beds", 0)]
    payload = protocol.encode_config(
        device.config_version, site.name[:64] if site else device.id, device.mode, channels
    )
    return protocol.topic(device.id, "config"), payload


def all_configs(session: Session) -> list[tuple[str, bytes]]:
    return [config_message(session, device) for device in session.exec(select(Device))]
