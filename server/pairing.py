"""Changing which program each channel of a dial counts, and telling the dial.

A dial learns its channels, labels, capacities, mode and shelter name from its retained
`config` message (docs/protocol.md). Whatever changes one of those bumps the device's
`config_version`; the ingestor publishes the config again for every device whose
`published_config_version` is behind.
"""

from sqlmodel import Session, select

from server.models import Device, DeviceChannel, Program


def pair(session: Session, device: Device, channels: list[tuple[int, str]]) -> None:
    """Replace the device's pairing: channel N counts program channels[N][0], labelled [1].

    Raises ValueError naming what is wrong; the caller then rolls back.
    """
    for old in session.exec(select(DeviceChannel).where(DeviceChannel.device_id == device.id)):
        session.delete(old)
    session.flush()
    for number, (program_id, label) in enumerate(channels):
        program = session.get(Program, program_id)
        if program is None or program.site_id != device.site_id:
            raise ValueError(f"program {program_id} is not a program of site {device.site_id}")
        taken = session.exec(select(DeviceChannel).where(DeviceChannel.program_id == program_id))
        if (other := taken.first()) is not None:
            raise ValueError(f"program {program_id} is already paired with {other.device_id}")
        session.add(
            DeviceChannel(device_id=device.id, channel=number, program_id=program_id, label=label)
        )
    session.flush()


def config_changed(session: Session, devices: list[Device]) -> None:
    """The config of these devices changed: give it a new version, so it goes out."""
    for device in devices:
        device.config_version += 1
        session.add(device)


def devices_counting(session: Session, program: Program) -> list[Device]:
    """The device (none or one) with a channel paired to `program`."""
    return list(
        session.exec(
            select(Device)
            .join(DeviceChannel, DeviceChannel.device_id == Device.id)
            .where(DeviceChannel.program_id == program.id)
        )
    )


def devices_at(session: Session, site_id: int) -> list[Device]:
    return list(session.exec(select(Device).where(Device.site_id == site_id)))
