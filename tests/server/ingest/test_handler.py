"""What the ingestor does with each message: store once, in order, or dead-letter with a reason."""

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import firmware
from server.devices import config_message, remember_configs, reset_sequence
from server.ingest.handler import handle
from server.models import CurrentState, DeadLetter, Device, Program, Reading

STATE = protocol.topic("dial-01", "state")
LIMIT = 4096


def state(seq, count=5, capacity=20, boot=1, mode="occupied", channels=None, config=1):
    return protocol.encode_state(
        boot, seq, mode, config, channels or [(count, capacity)], 1767225600
    )


def ingest(session, topic, payload):
    outcome = handle(session, topic, payload, LIMIT)
    session.commit()
    return outcome


def acks(outcome):
    return [json.loads(payload) for _topic, payload in outcome.replies]


def test_a_state_is_stored_with_capacity_and_acknowledged(session, site):
    outcome = ingest(session, STATE, state(1, count=7))
    [reading] = session.exec(select(Reading)).all()
    assert (reading.occupied, reading.capacity, reading.source) == (7, 20, "dial")
    assert reading.device_ts.isoformat() == "2026-01-01T00:00:00+00:00"
    assert session.get(CurrentState, reading.program_id).occupied == 7
    assert outcome.replies[0][0] == protocol.topic("dial-01", "ack")
    assert acks(outcome) == [{"v": 1, "boot": 1, "seq": 1, "result": "saved", "reason": None}]
    assert outcome.changed


def test_a_reading_keeps_the_beds_out_of_service_when_it_arrived(session, site):
    program = session.exec(select(Program)).one()
    program.out_of_service = 3
    session.add(program)
    session.commit()
    ingest(session, STATE, state(1, count=7))
    [reading] = session.exec(select(Reading)).all()
    assert (reading.program_id, reading.occupied, reading.out_of_service) == (program.id, 7, 3)


def test_free_mode_counts_are_stored_as_occupied(session, site):
    ingest(session, STATE, state(1, count=15, mode="free"))
    assert session.exec(select(Reading.occupied)).one() == 5


def test_a_duplicate_is_acknowledged_again_but_stored_once(session, site):
    ingest(session, STATE, state(1, count=7))
    again = ingest(session, STATE, state(1, count=7))
    assert acks(again)[0]["result"] == "saved"
    assert len(session.exec(select(Reading)).all()) == 1
    assert not again.changed


def test_a_resend_with_other_counts_under_the_same_key_is_refused(session, site):
    """The same (boot, seq) must mean the same counts; otherwise "saved" would be a lie."""
    ingest(session, STATE, state(1, count=7))
    conflict = ingest(session, STATE, state(1, count=9))
    assert conflict.reason == "conflicting duplicate: boot 1 seq 1 was stored with other counts"
    assert acks(conflict)[0]["result"] == "rejected"
    assert session.exec(select(CurrentState)).one().occupied == 7


def test_an_older_state_goes_to_history_but_not_over_the_current_one(session, site):
    ingest(session, STATE, state(2, count=9))
    ingest(session, STATE, state(1, count=3))
    assert sorted(session.exec(select(Reading.seq)).all()) == [1, 2]
    assert session.exec(select(CurrentState)).one().occupied == 9


def test_a_new_boot_counts_as_newer(session, site):
    ingest(session, STATE, state(40, count=9, boot=1))
    ingest(session, STATE, state(41, count=2, boot=2))
    assert session.exec(select(CurrentState)).one().occupied == 2


def test_an_older_state_is_told_the_newest_boot_and_a_reset_forgets_the_numbering(session, site):
    """A wiped board numbers from boot 1 again (docs/protocol.md): its ack says which boot
    the server shows, and an admin's reset-sequence lets its next state through as well."""
    assert "newest_boot" not in acks(ingest(session, STATE, state(3, count=9, boot=7)))[0]
    [ack] = acks(ingest(session, STATE, state(1, count=2, boot=1)))
    assert (ack["result"], ack["newest_boot"]) == ("saved", 7)
    assert session.exec(select(CurrentState)).one().occupied == 9  # kept as older
    reset_sequence(session, session.get(Device, "dial-01"))
    session.commit()
    assert "newest_boot" not in acks(ingest(session, STATE, state(2, count=4, boot=1)))[0]
    assert session.exec(select(CurrentState)).one().occupied == 4


def reason_for(session, topic, payload):
    outcome = ingest(session, topic, payload)
    letter = session.exec(select(DeadLetter).order_by(DeadLetter.id.desc())).first()
    assert letter.reason == outcome.reason
    assert session.exec(select(Reading)).first() is None
    return outcome.reason, acks(outcome)


def test_each_kind_of_bad_message_has_its_own_reason(session, site):
    cases = {
        "payload is not valid JSON": (STATE, b"{nope"),
        "payload is not a JSON object": (STATE, b"[1, 2]"),
        "unsupported protocol version: 7": (STATE, b'{"v": 7}'),
        "unknown device: nobody-01": (protocol.topic("nobody-01", "state"), state(1)),
        "channel 1 is not paired with a program": (STATE, state(1, channels=[(1, 20), (2, 5)])),
        "count 21 above capacity 20 on channel 0": (STATE, state(1, count=21)),
        "bad topic: unknown topic suffix: dial": ("signal/v1/dial-01/dial", state(1)),
        "bad topic: unsupported protocol version in topic: v9": (
            "signal/v9/dial-01/state",
            state(1),
        ),
        "bad topic: invalid device id in topic": ("signal/v1/Bad_Id/state", state(1)),
        f"payload too large: {LIMIT + 1} bytes, limit {LIMIT}": (STATE, b" " * (LIMIT + 1)),
        "state.channels[0].count: 'five' is not of type 'integer'": (
            STATE,
            state(1).replace(b'"count": 5', b'"count": "five"'),
        ),
        "state: 'boot' is a required property": (STATE, b'{"v": 1, "seq": 1}'),
    }
    for expected, (topic, payload) in cases.items():
        reason, _ = reason_for(session, topic, payload)
        assert reason == expected, (topic, payload)


def test_capacities_must_be_those_of_the_config_the_dial_reports(session, site):
    """The 20-bed program's dial (config 1) claims 10,000 beds: refused, with the reason in
    its ack. After the capacity went to 25 (config 2, sent), a dial still on config 1 counts
    against 20 and is stored; on config 2, only 25 is."""

    def result(seq, capacity, config=1):
        outcome = ingest(session, STATE, state(seq, capacity=capacity, config=config))
        [ack] = acks(outcome)
        assert ack["reason"] == outcome.reason
        return outcome.reason or ack["result"]

    assert result(1, 10_000) == "capacity 10000 on channel 0 is not the 20 of config 1"
    device = session.get(Device, "dial-01")
    remember_configs(session, [(device.id, config_message(session, device)[1])])  # config 1
    program = session.exec(select(Program)).one()
    program.capacity, device.config_version = 25, 2
    remember_configs(session, [(device.id, config_message(session, device)[1])])  # config 2
    session.commit()
    assert result(3, 20, config=1) == "saved"
    assert result(4, 20, config=2) == "capacity 20 on channel 0 is not the 25 of config 2"
    assert result(5, 25, config=2) == "saved"
    # a config not kept (sent before they were): the pairing as it is now
    assert result(6, 20, config=7) == "capacity 20 on channel 0 is not the 25 of config 7"
    assert [r.capacity for r in session.exec(select(Reading).order_by(Reading.seq))] == [20, 25]
    assert session.exec(select(CurrentState)).one().capacity == 25


def test_a_refused_state_with_boot_and_seq_gets_a_rejection_ack(session, site):
    _, replies = reason_for(session, STATE, state(3, count=25))
    assert replies == [
        {
            "v": 1,
            "boot": 1,
            "seq": 3,
            "result": "rejected",
            "reason": "count 25 above capacity 20 on channel 0",
        }
    ]


def test_dead_letter_payloads_are_capped(session, site):
    ingest(session, STATE, b"x" * 3000)
    assert len(session.exec(select(DeadLetter)).one().payload) == 2048


def test_status_and_telemetry_update_the_device(session, site):
    assert ingest(
        session,
        protocol.topic("dial-01", "status"),
        protocol.encode_status("online", 4, "0.1.0", 1),
    ).changed
    telemetry = protocol.encode_telemetry(30, "0.1.0", 0, 3, rssi=-61, free_heap=90000)
    ingest(session, protocol.topic("dial-01", "telemetry"), telemetry)
    ingest(
        session, protocol.topic("dial-01", "status"), protocol.encode_status("lost", 4, "0.1.0", 1)
    )
    device = session.get(Device, "dial-01")
    assert (device.status, device.boot, device.rssi, device.free_heap) == ("lost", 4, -61, 90000)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(list(range(1, 9))), repeats=st.lists(st.integers(1, 8), max_size=6))
def test_any_order_with_duplicates_ends_with_the_newest_count(engine, site, order, repeats):
    """Reordered and repeated deliveries store each commit once and keep the newest current."""
    with Session(engine) as session:
        for table in (CurrentState, Reading):
            for row in session.exec(select(table)):
                session.delete(row)
        session.commit()
        for seq in order + repeats:
            ingest(session, STATE, state(seq, count=seq))
        assert sorted(session.exec(select(Reading.seq)).all()) == list(range(1, 9))
        assert session.exec(select(CurrentState)).one().occupied == 8


# --- updates over the air -----------------------------------------------------------------

FETCH = protocol.topic("dial-01", "fetch")
UPDATE = protocol.topic("dial-01", "update")


def test_fetches_are_answered_with_chunks_that_make_up_each_file(session, site, release):
    for path, size, digest in firmware.manifest(session, "0.2.0"):
        data = b""
        for offset in range(0, size + 1, protocol.CHUNK):  # the last may be empty
            outcome = ingest(session, FETCH, protocol.encode_fetch("0.2.0", path, offset))
            assert outcome.result == "answered" and not outcome.changed
            [(topic, payload)] = outcome.replies
            assert topic == protocol.topic("dial-01", "chunk")
            chunk = protocol.decode_chunk(payload)
            assert (chunk["version"], chunk["path"], chunk["offset"]) == ("0.2.0", path, offset)
            data += chunk["data"]
        assert len(data) == size and hashlib.sha256(data).hexdigest() == digest, path
    assert session.exec(select(DeadLetter)).all() == []


def test_a_fetch_at_offset_0_0_is_answered_with_a_whole_number(session, site, release):
    # JSON Schema's integer admits 0.0; a dial's decode_chunk takes only a whole number.
    payload = b'{"v": 1, "version": "0.2.0", "path": "board/big.py", "offset": 0.0}'
    [(_topic, reply)] = ingest(session, FETCH, payload).replies
    assert protocol.decode_chunk(reply)["offset"] == 0


@pytest.mark.parametrize(
    ("version", "path", "offset", "code", "reason"),
    [
        ("0.9.0", "board/big.py", 0, "unknown_firmware", "unknown firmware version: 0.9.0"),
        ("0.2.0", "board/led.py", 0, "unknown_firmware", "firmware 0.2.0 has no file board/led.py"),
        ("0.2.0", "board/big.py", 8192, "bad_offset", "fetch offset 8192 past the end of board/"),
    ],
)
def test_a_fetch_of_what_is_not_there_is_dead_lettered(
    session, site, release, version, path, offset, code, reason
):
    payload = protocol.encode_fetch(version, path, offset)
    outcome = ingest(session, FETCH, payload)
    assert (outcome.result, outcome.code, outcome.replies) == ("rejected", code, [])
    [letter] = session.exec(select(DeadLetter)).all()
    assert letter.reason.startswith(reason) and letter.payload == payload


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"v": 1, "version": "0.2.0", "path": "board/big.py", "offset": 100}', "fetch.offset"),
        (b'{"v": 1, "version": "0.2.0", "path": "main.py", "offset": 0}', "fetch.path"),
        (b'{"v": 1, "version": "", "path": "board/big.py", "offset": 0}', "fetch.version"),
        (b'{"v": 1, "version": "0.2.0", "state": "flying"}', "update.state"),
    ],
)
def test_malformed_update_messages_are_refused_by_their_schema(session, site, payload, reason):
    topic = FETCH if b"path" in payload else UPDATE
    outcome = ingest(session, topic, payload)
    assert (outcome.result, outcome.code) == ("rejected", "bad_payload")
    assert outcome.reason.startswith(reason)


def test_update_reports_are_kept_on_the_device(session, site):
    outcome = ingest(session, UPDATE, protocol.encode_update("0.2.0", "downloading"))
    assert outcome.result == "stored" and not outcome.replies
    device = session.get(Device, "dial-01")
    first = device.update_at
    assert (device.update_version, device.update_state, device.update_reason) == (
        "0.2.0",
        "downloading",
        None,
    )
    ingest(session, UPDATE, protocol.encode_update("0.2.0", "downloading"))  # retained, again
    assert session.get(Device, "dial-01").update_at == first
    ingest(session, UPDATE, protocol.encode_update("0.2.0", "rolled_back", "crashed twice"))
    device = session.get(Device, "dial-01")
    assert (device.update_state, device.update_reason) == ("rolled_back", "crashed twice")
    assert device.update_at > first


def test_the_servers_own_update_messages_are_ignored_even_when_large(session, site):
    big = protocol.encode_chunk("0.2.0", "board/big.py", 0, bytes(protocol.CHUNK))
    for suffix, payload in (("ota", protocol.encode_ota(None, [])), ("chunk", big)):
        outcome = handle(session, protocol.topic("dial-01", suffix), payload, 256)
        assert outcome.result == "ignored", suffix
