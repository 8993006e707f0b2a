"""Fuzzing the ingest path: whatever arrives on an MQTT topic, the handler never crashes, and
every message is either stored (and then valid by the protocol's JSON Schemas) or dead-lettered
with a specific reason.

Hypothesis generates batches of (topic, payload): valid messages, valid ones with one field
made wrong (wrong type, boundary values, NaN, huge numbers, long or odd strings), wrong
encodings (UTF-16, UTF-32, BOMs, invalid UTF-8, NUL bytes, cut short), huge and deeply nested
payloads, arbitrary JSON and bytes, and topics of other versions, with extra levels,
wildcards, empty, unknown or unicode device ids. Each batch runs through the real
`handle` on a real SQLite database, flushed after every message (so what the database refuses
shows too) and rolled back at the end (so the database stays as small as it started).

SIGNAL_FUZZ_EXAMPLES sets how many messages (default 5,000: a few seconds in `make test`);
docs/reliability.md gives the command that runs 100,000. The counts per outcome are printed.
"""

import json
import logging
import math
import os
import shutil
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from firmware.dialcore import protocol
from server import firmware
from server.db import make_engine
from server.ingest.handler import DEAD_LETTER_PAYLOAD_CAP, REASONS, Outcome, handle, handle_batch
from server.models import DeadLetter, Device, DeviceChannel, Program, Reading, Sector, Site
from server.protocol import VALIDATORS
from server.settings import Settings

MESSAGES = int(os.environ.get("SIGNAL_FUZZ_EXAMPLES", "5000"))
BATCH = 8  # messages per generated example: one example also tries resends and their order
LIMIT = Settings(_env_file=None).max_payload_bytes  # the ingestor's default payload limit
PAIRED, UNPAIRED = "dial-01", "dial-02"  # registered dials: two channels paired, and none
CAPACITY = 20  # of both programs the paired dial counts: its config 1 says so
GHOST = "dial-99"  # a valid id no dial is registered under
# A dial whose channel 1 counts a program that is closed (it opens with an alert, and there
# is none), where it stored CLOSED_COUNT before: other counts there are refused
CLOSED, CLOSED_COUNT = "dial-03", 5
MAX_INT = 2**31 - 1  # the protocol's and the database's largest integer (boot, seq)
# A firmware release the dials may fetch from: one file shorter than a chunk, one of several
RELEASE = "1.2.3"
RELEASE_FILES = {
    "dialcore/__init__.py": f'FIRMWARE_VERSION = "{RELEASE}"\n'.encode(),
    "board/big.py": b"x" * (3 * protocol.CHUNK + 5),
}

# The handler's reason codes, but for "internal_error": a crash of ours, not a specific reason
SPECIFIC = set(REASONS) - {"internal_error"}

# --- topics --------------------------------------------------------------------------------

SUFFIXES = ("state", "status", "telemetry", "fetch", "update")
OWN_SUFFIXES = ("ack", "config", "ota", "chunk")  # what the server publishes; seen on signal/#
ODD_TOPICS = [
    "",
    "#",
    "+",
    "signal/#",
    "signal/v1/+/state",
    "signal/v1/#",
    "signal/+/dial-01/state",
    "signal/v1//state",
    "signal/v1/dial-01/",
    "signal/v1/dial-01/state/extra",
    "signal/v1/dial-01/state/",
    "/signal/v1/dial-01/state",
    "signal/v1/state",
    "signal/v0/dial-01/state",
    "signal/v2/dial-01/state",
    "signal/V1/dial-01/state",
    "signal/v01/dial-01/state",
    "signal/v1.0/dial-01/state",
    "Signal/v1/dial-01/state",
    "signal/v1/DIAL-01/state",
    "signal/v1/-dial/state",
    "signal/v1/di/state",
    "signal/v1/" + "d" * 33 + "/state",
    "signal/v1/dïal-01/state",
    "signal/v1/\uff44\uff49\uff41\uff4c-01/state",  # full-width letters
    "signal/v1/dial 01/state",
    "signal/v1/dial-01/STATE",
    "signal/v1/dial-01/state ",
    "signal/v1/dial-01/😀",
    "a/" * 5000,
]
# MQTT forbids U+0000 in topic names and requires valid UTF-8 (MQTT 5.0, 1.5.4), and the broker
# refuses others, so generated topics leave out NUL and lone surrogates.
TOPIC_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
DEVICE_IDS = st.one_of(
    st.sampled_from([PAIRED, PAIRED, UNPAIRED]),  # twice: most valid topics name the paired dial
    st.from_regex(r"[a-z0-9][a-z0-9-]{2,31}", fullmatch=True),  # valid ids, not registered
    TOPIC_TEXT.filter(lambda s: "/" not in s),
)
VALID_TOPICS = st.builds(  # now and then a dial that is not registered (or no longer)
    protocol.topic,
    st.sampled_from([PAIRED, PAIRED, UNPAIRED, GHOST, CLOSED]),
    st.sampled_from(SUFFIXES),
)
TOPICS = st.one_of(
    VALID_TOPICS,
    st.builds(protocol.topic, DEVICE_IDS, st.sampled_from(SUFFIXES + OWN_SUFFIXES)),
    st.sampled_from(ODD_TOPICS),
    st.builds(lambda a, b: f"signal/v1/{a}/{b}", TOPIC_TEXT, TOPIC_TEXT),
    TOPIC_TEXT,
)


# --- payloads ------------------------------------------------------------------------------

SMALL_INTS = st.integers(1, MAX_INT) | st.sampled_from([1, 2, MAX_INT])
TEXT_EDGES = ["", "\x00", "a\x00b", "é", "😀", "\ud800", "a\udfff", " " * 33, "x" * 5000]
# Values a field should not have, or has only at its limits
EDGE_INTS = st.sampled_from(
    [0, 1, -1, 10_000, 10_001, MAX_INT, 2**31, -(2**31), 2**63 - 1, 2**63, -(2**63), 2**64]
)
ODD_VALUES = st.one_of(
    *[EDGE_INTS] * 4,  # four times as often as each other kind: limits are where bugs live
    st.sampled_from([10**100, 0.0, -0.0, 1.0, 1.5, 20.0, 1e308, 5e-324]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.sampled_from(TEXT_EDGES),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


ANY_CAPACITY = st.integers(0, 10_000) | st.sampled_from([0, 1, 10_000])


@st.composite
def channels(draw):
    # mostly (8 in 10) the capacity of the dial's config (_register_dials), else one the
    # server refuses: enough states are stored for resends and conflicts to happen
    capacity = draw(
        st.integers(0, 9).flatmap(lambda n: st.just(CAPACITY) if n < 8 else ANY_CAPACITY)
    )
    count = draw(st.integers(0, capacity) | st.just(capacity + 1))  # at times one too many
    return {"count": count, "capacity": capacity}


VALID = {
    "state": st.fixed_dictionaries(
        {
            "v": st.just(1),
            "boot": SMALL_INTS,
            "seq": SMALL_INTS,
            "mode": st.sampled_from(protocol.MODES),
            # mostly the dial's own config (1, or 0: none yet), else one never sent
            "config_version": st.integers(0, 9).flatmap(
                lambda n: st.sampled_from([0, 1]) if n < 8 else st.integers(0, MAX_INT)
            ),
            # mostly the 2 of the paired dial's config; else 1 (refused: not its config) or 3
            # (a third is unpaired)
            "channels": st.integers(0, 9).flatmap(
                lambda n: (
                    st.lists(channels(), min_size=2, max_size=2 if n < 8 else 3)
                    if n < 9
                    else st.lists(channels(), min_size=1, max_size=1)
                )
            ),
        },
        optional={
            "ts": st.none() | st.integers(1_500_000_000, 4_102_444_800),
            "source": st.sampled_from(["dial", "web"]),
        },
    ),
    "status": st.fixed_dictionaries(
        {"v": st.just(1), "state": st.sampled_from(["online", "offline", "lost"])},
        optional={
            "boot": SMALL_INTS,
            "fw": st.text(max_size=32),
            "config_version": st.integers(0, MAX_INT),
        },
    ),
    "telemetry": st.fixed_dictionaries(
        {
            "v": st.just(1),
            "uptime_s": st.integers(0, MAX_INT),
            "fw": st.text(max_size=32),
            "queue": st.integers(0, MAX_INT),
        },
        optional={
            "rssi": st.none() | st.integers(-127, 0),
            "free_heap": st.none() | st.integers(0, MAX_INT),
            "last_acked_seq": st.none() | SMALL_INTS,
        },
    ),
    "fetch": st.fixed_dictionaries(
        {
            "v": st.just(1),
            "version": st.sampled_from([RELEASE, RELEASE, "9.9.9"]),
            "path": st.sampled_from([*RELEASE_FILES, "board/other.py"]),
            "offset": st.integers(0, 4).map(lambda n: n * protocol.CHUNK),
        }
    ),
    "update": st.fixed_dictionaries(
        {
            "v": st.just(1),
            "version": st.sampled_from([RELEASE, "9.9.9"]),
            "state": st.sampled_from(protocol.UPDATE_STATES),
        },
        optional={"reason": st.none() | st.text(max_size=40)},
    ),
}


# Strategies are built once here, not inside the composites: building one per draw would
# cost more than the draw.
CHANGES = st.sampled_from(["none", "none", "set", "set", "delete", "channel"])
FIELD_NAMES = {  # a kind's own fields, and one it does not have
    kind: st.sampled_from([*sorted(VALIDATORS[kind].schema["properties"]), "extra"])
    for kind in SUFFIXES
}
CHANNEL_FIELDS = st.sampled_from(["count", "capacity", "extra"])
ENCODINGS = st.sampled_from(
    [
        *("utf-8", "utf-8", "utf-8"),  # plain UTF-8 three times as often as each other way
        *("utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1"),
        *("cut short", "NUL inside", "0xff inside", "padded to the limit", "one byte over"),
    ]
)


@st.composite
def payloads_of(draw, kind: str) -> bytes:
    """A valid message of `kind`, often with one thing made wrong, in some encoding."""
    message = draw(VALID[kind])
    change = draw(CHANGES)
    if change == "set":
        message[draw(FIELD_NAMES[kind])] = draw(ODD_VALUES)
    elif change == "delete":
        del message[sorted(message)[draw(st.integers(0, len(message) - 1))]]
    elif change == "channel" and message.get("channels"):
        message["channels"][0][draw(CHANNEL_FIELDS)] = draw(ODD_VALUES)
    text = json.dumps(message)  # NaN and Infinity come out as JSON's common extension
    how = draw(ENCODINGS)
    if how == "latin-1":  # not UTF-8 when the message has a letter beyond ASCII
        return json.dumps(message, ensure_ascii=False).encode("latin-1", "replace")
    if how in ("utf-8", "utf-16", "utf-16-le", "utf-32", "utf-8-sig"):
        return text.encode(how)
    data = text.encode()
    if how == "padded to the limit":  # spaces after the object: still valid JSON
        return data.ljust(LIMIT)
    if how == "one byte over":
        return data.ljust(LIMIT + 1)
    at = draw(st.integers(0, len(data)))
    if how == "cut short":
        return data[:at]
    return data[:at] + (b"\x00" if how == "NUL inside" else b"\xff") + data[at:]


MESSAGE_PAYLOADS = {kind: payloads_of(kind) for kind in SUFFIXES}


def nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    """A state whose channels nest `depth` levels deep (Python's recursion limit is 1,000)."""
    return b'{"v": 1, "channels": ' + opener * depth + closer * depth + b"}"


HUGE = st.builds(
    lambda pattern, size: pattern * size,
    st.sampled_from([b"x", b"[", b"{", b'{"v":', b"\x00", b"\xff", b"1", b" "]),
    st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1, 10 * LIMIT, 2**20]),
)
ANY_MESSAGE = st.one_of(MESSAGE_PAYLOADS.values())
PAYLOADS = st.one_of(
    ANY_MESSAGE,
    ANY_MESSAGE,
    ANY_MESSAGE,  # three times: most payloads are (nearly) valid messages
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    HUGE,
    st.builds(nested, st.integers(1, LIMIT // 2), st.just(b"["), st.just(b"]")),
    st.builds(nested, st.integers(1, LIMIT // 8), st.just(b'{"a":'), st.just(b"}")),
    st.sampled_from([b"", b"null", b"1", b'"x"', b"[]", b"{}", b'{"v": 1}', b"\xef\xbb\xbf{}"]),
)


@st.composite
def matched(draw) -> tuple[str, bytes]:
    """A (nearly) valid message on a topic of its own kind: most of what dials send."""
    topic = draw(VALID_TOPICS)
    return topic, draw(MESSAGE_PAYLOADS[protocol.parse_topic(topic)[1]])


PAIRS = st.one_of(matched(), matched(), st.tuples(TOPICS, PAYLOADS))  # most are matched


@st.composite
def batches(draw) -> list[tuple[str, bytes]]:
    """BATCH messages; the last one sends an earlier one again, at times with other counts."""
    batch = [draw(PAIRS) for _ in range(BATCH - 1)]
    topic, payload = batch[draw(st.integers(0, BATCH - 2))]
    if draw(st.booleans()):
        payload = payload.replace(b'"count": ', b'"count": 1', 1)
    return [*batch, (topic, payload)]


# --- the run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed(migrated, tmp_path_factory, request) -> Counter:
    """Run the fuzz once for the module; the count of each outcome."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copyfile(migrated, path)
    engine = make_engine(f"sqlite:///{path}")
    _register_dials(engine)
    tally: Counter = Counter()

    @given(batch=batches(), one_by_one=st.booleans())
    @settings(
        max_examples=math.ceil(MESSAGES / BATCH),
        derandomize=True,  # the same messages every run, on every machine
        database=None,
        deadline=None,
        # A failing batch (8 messages) reads well as it is; shrinking megabyte payloads
        # would take minutes.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),  # large, slow examples are the point here
    )
    def run(batch, one_by_one):
        """The batch as the ingestor hands it over (handle_batch), or message by message."""
        with Session(engine) as session:  # never committed: each batch starts from the same
            if one_by_one:
                outcomes = []
                for topic, payload in batch:
                    outcomes.append(handle(session, topic, payload, LIMIT))
                    session.flush()  # what the database refuses shows here, as at commit
            else:
                outcomes = handle_batch(session, batch, LIMIT)
                session.flush()
            for (topic, payload), outcome in zip(batch, outcomes, strict=True):
                tally[_judge(session, topic, payload, outcome)] += 1
            letters = session.exec(
                select(DeadLetter.topic, DeadLetter.payload, DeadLetter.reason).order_by(
                    col(DeadLetter.id)
                )
            ).all()
            refused = [
                (topic[:512], payload[:DEAD_LETTER_PAYLOAD_CAP], outcome.reason)
                for (topic, payload), outcome in zip(batch, outcomes, strict=True)
                if outcome.result == "rejected"
            ]
            assert [tuple(letter) for letter in letters] == refused  # one each, in order
            session.rollback()

    # Every refusal logs a warning: a hundred thousand of them would only fill memory.
    handler_log = logging.getLogger("server.ingest.handler")
    handler_log.disabled = True
    try:
        run()
    finally:
        handler_log.disabled = False
        engine.dispose()
    counts = "".join(f"\n  {n:7d}  {outcome}" for outcome, n in sorted(tally.items()))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown in every run, not only with -s
        print(f"\ningest fuzz: {tally.total()} messages{counts}")
    return tally


def _register_dials(engine) -> None:
    with Session(engine) as session:
        firmware.store_release(session, RELEASE, list(RELEASE_FILES.items()))
        site = Site(name="Fuzz House", lat=43.65, lon=-79.38)
        session.add(site)
        session.flush()
        session.add_all([Device(id=d, site_id=site.id) for d in (PAIRED, UNPAIRED, CLOSED)])
        paired = [(PAIRED, 0, None), (PAIRED, 1, None), (CLOSED, 0, None), (CLOSED, 1, "cold")]
        for device_id, channel, alert in paired:
            program = Program(
                site_id=site.id,
                name=f"{device_id} {channel}",
                sector=Sector.mixed,
                capacity=CAPACITY,
                opens_with_alert=alert,
            )
            session.add(program)
            session.flush()
            session.add(
                DeviceChannel(
                    device_id=device_id, channel=channel, program_id=program.id, label="Beds"
                )
            )
        session.add(  # what the closed channel counted while it was open
            Reading(
                program_id=program.id,
                device_id=CLOSED,
                boot=1,
                seq=1,
                channel=1,
                occupied=CLOSED_COUNT,
                capacity=CAPACITY,
                source="dial",
            )
        )
        session.commit()


def _judge(session: Session, topic: str, payload: bytes, outcome: Outcome) -> str:
    """Check what became of one message, and name the outcome."""
    for reply_topic, reply in outcome.replies:  # acks or chunks, to the sender, valid
        sender, suffix = protocol.parse_topic(topic)
        kind = "chunk" if suffix == "fetch" else "ack"
        assert reply_topic == protocol.topic(sender, kind)
        VALIDATORS[kind].validate(json.loads(reply))
    if outcome.result == "rejected":
        assert outcome.code in SPECIFIC, (outcome.code, outcome.reason, topic, payload[:200])
        assert outcome.reason and outcome.reason != outcome.code
        assert all(json.loads(reply)["result"] == "rejected" for _, reply in outcome.replies)
        return f"rejected: {outcome.code}"
    assert outcome.reason is None and outcome.code is None
    device_id, suffix = protocol.parse_topic(topic)
    if outcome.result == "ignored":
        assert suffix in OWN_SUFFIXES and not outcome.replies and not outcome.changed
        return f"ignored: our own {suffix}"
    assert outcome.result in ("stored", "duplicate", "answered"), outcome.result
    assert len(payload) <= LIMIT
    message = json.loads(payload)
    VALIDATORS[suffix].validate(message)
    device = session.get(Device, device_id)
    assert device is not None and device.last_seen is not None
    if suffix == "state":
        stored = session.exec(
            select(Reading.channel, Reading.occupied, Reading.capacity).where(
                Reading.device_id == device_id,
                Reading.boot == message["boot"],
                Reading.seq == message["seq"],
            )
        ).all()
        if outcome.result == "stored":  # a duplicate's rows are its first sending's
            # every channel but a closed one, which stores nothing (docs/protocol.md)
            expected = [n for n in range(len(message["channels"])) if (device_id, n) != (CLOSED, 1)]
            assert sorted(n for n, _occupied, _capacity in stored) == expected, (stored, message)
        assert stored, message  # saved, or kept from the first sending
        for channel, occupied, capacity in stored:
            assert 0 <= occupied <= capacity == message["channels"][channel]["capacity"]
        assert [json.loads(reply)["result"] for _, reply in outcome.replies] == ["saved"]
    if suffix == "fetch":  # the chunk is the file's bytes from the offset asked for
        [(_topic, reply)] = outcome.replies
        data = RELEASE_FILES[message["path"]]
        offset = int(message["offset"])  # 0.0 passes the schema too
        assert protocol.decode_chunk(reply)["data"] == data[offset : offset + protocol.CHUNK]
    return f"{outcome.result}: {suffix}"


def test_every_message_is_stored_valid_or_refused_with_a_specific_reason(fuzzed):
    assert fuzzed.total() >= MESSAGES
    # the mix reaches every path: each kind stored, each reason given
    assert {f"stored: {suffix}" for suffix in SUFFIXES if suffix != "fetch"} <= set(fuzzed)
    assert fuzzed["answered: fetch"]
    assert {f"rejected: {code}" for code in SPECIFIC} <= set(fuzzed)
    assert fuzzed["duplicate: state"] and fuzzed["ignored: our own ack"]


# --- bugs the fuzz found, one by one ------------------------------------------------------

TELEMETRY = protocol.topic(PAIRED, "telemetry")


@pytest.fixture
def dials(engine_each_database):
    _register_dials(engine_each_database)
    return engine_each_database


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (TELEMETRY, b'{"v": 1, "uptime_s": 1, "fw": "1.0", "queue": 2147483648}'),
        (TELEMETRY, b'{"v": 1, "uptime_s": 1, "fw": "1.0", "queue": 0, "free_heap": 1e300}'),
        (protocol.topic(PAIRED, "status"), b'{"v": 1, "state": "online", "config_version": 1e19}'),
        (TELEMETRY, b'{"v": 1, "uptime_s": 1, "fw": "1.0\\u0000", "queue": 0}'),
    ],
    ids=["queue 2**31", "free_heap 1e300", "config_version 1e19", "NUL in fw"],
)
def test_values_the_database_cannot_store_are_refused_not_crashed_on(dials, topic, payload):
    """The schemas once set no maximum on these integers and allowed any character in fw, so
    such messages passed and the commit failed: OverflowError on SQLite (over 2**63), which
    ended the ingestor's worker; on PostgreSQL "integer out of range" (over 2**31 - 1) or "text
    fields cannot contain NUL", which the ingestor took for "database unavailable" and retried
    for ever. Now every integer has the database's maximum and fw is printable ASCII."""
    with Session(dials) as session:
        outcome = handle(session, topic, payload, LIMIT)
        session.commit()
    assert outcome.code == "bad_payload"


def test_a_state_with_a_boolean_boot_gets_no_ack_the_dial_cannot_read(dials):
    """JSON true is a Python int too: a rejection ack must not say "boot": true, which
    ack.schema.json refuses (found by the fuzz)."""
    payload = (
        b'{"v": 1, "boot": true, "seq": 1, "mode": "occupied", "config_version": 0, "channels": []}'
    )
    with Session(dials) as session:
        outcome = handle(session, protocol.topic(PAIRED, "state"), payload, LIMIT)
    assert outcome.code == "bad_payload"
    for _topic, reply in outcome.replies:
        VALIDATORS["ack"].validate(json.loads(reply))
