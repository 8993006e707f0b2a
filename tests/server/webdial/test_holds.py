"""Holds at the web dial's desk: a place held for someone on the way is listed with its code
and released with one tap; the count is left as it was and the place is free again."""

from sqlmodel import Session, select

from server import holds
from server.models import DeviceChannel, Hold, HoldState, Reading


def test_a_hold_released_at_the_desk_frees_the_place_and_counts_nobody(stack, dials, signed_in):
    device_id, secret = dials.add(capacities=(20,))
    page = signed_in(device_id, secret)
    count = page.get_by_label("Room 1", exact=True)
    count.wait_for()
    count.fill("5")
    page.get_by_role("button", name="Save").click()
    page.locator('#state[data-state="saved"]').wait_for()
    with Session(stack.system.engine) as session:  # a worker holds one of the 15 free
        program_id = session.get(DeviceChannel, (device_id, 0)).program_id
        hold = holds.place(session, stack.system.settings, program_id, None)
        hold_id, code = hold.id, hold.code
    page.reload()  # (an open page shows it within its minute's refresh; the tab keeps the secret)

    page.get_by_role("button", name=f"Release: {code}").click()
    page.get_by_text(": hold released").wait_for()
    assert count.input_value() == "5"  # nobody came: the count stays
    with Session(stack.system.engine) as session:
        assert session.get(Hold, hold_id).state == HoldState.released
        stored = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
    assert [r.occupied for r in stored] == [5, 5]  # the release's commit: the same count
