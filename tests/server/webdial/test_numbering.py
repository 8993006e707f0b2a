"""Web commit numbers: unique under concurrent saves, and never reused after a restart."""

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session

from server.models import Device, Program, Reading, Sector, Site
from server.webdial.numbering import Numbering

SAVES = 8  # phones saving at once
EACH = 10  # saves per phone


def _dial(engine) -> tuple[str, int]:
    with Session(engine) as session:
        site = Site(name="Elm House")
        session.add(site)
        session.flush()
        program = Program(site_id=site.id, name="Beds", sector=Sector.women, capacity=9)
        session.add_all([program, Device(id="web-elm", site_id=site.id)])
        session.commit()
        return "web-elm", program.id


def test_concurrent_saves_get_distinct_numbers_and_a_restart_a_new_boot(engine_each_database):
    engine = engine_each_database
    device_id, program_id = _dial(engine)
    numbering = Numbering()

    def phone():
        with Session(engine) as session:
            return [numbering.next(session, device_id) for _ in range(EACH)]

    with ThreadPoolExecutor(SAVES) as pool:
        numbers = [n for batch in pool.map(lambda _: phone(), range(SAVES)) for n in batch]

    assert sorted(numbers) == [(1, seq) for seq in range(1, SAVES * EACH + 1)]
    with Session(engine) as session:  # the ingestor stored only the first of them
        session.add(
            Reading(
                program_id=program_id,
                device_id=device_id,
                boot=1,
                seq=1,
                channel=0,
                occupied=2,
                capacity=9,
                source="web",
            )
        )
        session.commit()

    restarted, second_process = Numbering(), Numbering()
    with Session(engine) as session:
        assert restarted.next(session, device_id) == (2, 2)
        assert second_process.next(session, device_id) == (3, 2)  # its own boot: no clash
        device = session.get(Device, device_id)
        assert device.boot == 3
        assert restarted.issued(device, 1, SAVES * EACH)  # handed out before the restart
        assert restarted.issued(device, 2, 2)
        assert not restarted.issued(device, 2, 1)  # this boot began at 2
        assert not restarted.issued(device, 2, 3)  # not handed out yet
        assert restarted.issued(device, 3, 9)  # the other process's boot: cannot tell
        assert not restarted.issued(device, 4, 1)  # no such boot yet
        assert not restarted.issued(device, 1, 0)
