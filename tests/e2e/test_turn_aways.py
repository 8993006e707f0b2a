"""A turn-away on a (simulated) dial, through Mosquitto to PostgreSQL: recorded while the dial
is off the network, sent when it is back after a restart, counted once, resends and all."""

import uuid
from datetime import UTC, datetime

from sqlmodel import Session, select

from firmware.dialcore.app import App
from firmware.dialcore.store import Store
from server import turnaways
from server.models import Reading, TurnAway
from server.simulator.host_transport import HostTransport
from tests.support.stack import Stack, settings_for
from tests.support.waiting import wait_until


def test_a_turn_away_made_offline_is_counted_once_after_the_dial_reconnects(
    postgres, mosquitto, tmp_path
):
    url = postgres.new_database(f"away_{uuid.uuid4().hex[:8]}")
    with Stack(settings_for(url, mosquitto.url)) as stack:
        device_id = f"away-{uuid.uuid4().hex[:6]}"
        stack.add_site(device_id, name="Cedar House")
        app = stack.start_dial(device_id, tmp_path)
        wait_until(lambda: stack.do(lambda: app.config["version"]) == 1, message="config")
        stack.stop_dial(app)  # off the network
        # at the desk meanwhile: hold and click, twice (one person each)
        offline = App(device_id, Store(str(tmp_path / f"{device_id}.json")), HostTransport(
            mosquitto.url, device_id))  # fmt: skip
        for _ in range(2):
            offline.button_down()
            offline.turn(+1)
            offline.button_up()
            offline.press()
        assert offline.store.pending["turned"] == [{"no_bed": 2}]

        app = stack.start_dial(device_id, tmp_path)  # back: it sends what it kept
        wait_until(lambda: stack.do(lambda: app.store.pending) is None, message="acked")
        stack.do(app.resend)  # a long press: the same commit again
        stack.do(lambda: app.turn_away("not_eligible"))  # and one in the new boot
        wait_until(lambda: stack.do(lambda: app.store.pending) is None, message="acked")
        stack.stop_dial(app)
        engine = stack.system.engine
        with Session(engine) as session:
            totals = session.exec(select(TurnAway.boot, TurnAway.reason, TurnAway.total)).all()
            tonight = turnaways.night_of(datetime.now(UTC), stack.system.settings.zone)
            counted = turnaways.counted(session, tonight, tonight, stack.system.settings.zone)
            readings = session.exec(select(Reading).where(Reading.device_id == device_id)).all()
        assert sorted(totals) == [(2, "no_bed", 2), (3, "not_eligible", 1)]
        assert [(c.site_name, c.reason, c.people) for c in counted] == [
            ("Cedar House", "no_bed", 2),
            ("Cedar House", "not_eligible", 1),
        ]
        assert {r.occupied for r in readings} == {0}  # the counts never moved
