"""Wire format of the Shelter Signal MQTT protocol, version 1 (docs/protocol.md).

One place builds and reads topics and payloads: the device, the host simulator, the
web dial and the server all use these functions. The JSON Schemas in server/schemas
describe the same payloads and the tests hold the two together.
"""

import json

VERSION = 1
ROOT = "signal/v1"
# Device -> server: state, status, telemetry, fetch, update; server -> device: ack, config,
# ota, chunk (docs/protocol.md).
SUFFIXES = ("state", "status", "telemetry", "ack", "config", "ota", "fetch", "chunk", "update")
MODES = ("occupied", "free")
# Over-the-air updates (docs/protocol.md, "Updates over the air"): a file comes in chunks of
# at most CHUNK bytes, base64 in JSON (about 2.8 KB a message: well under the broker's
# 16 KiB packet limit, and little heap on the ESP32 at a time).
CHUNK = 2048
UPDATE_STATES = ("downloading", "staged", "trial", "done", "rolled_back", "failed")
# Why the desk turned someone away (docs/protocol.md, "Turn-aways"): no bed, or not eligible,
# with what did not fit when the desk says (gender, age, pets, accessibility, other).
TURN_AWAY_REASONS = (
    "no_bed",
    "not_eligible",
    "not_eligible_gender",
    "not_eligible_age",
    "not_eligible_pets",
    "not_eligible_access",
    "not_eligible_other",
)
MAX_FILES = 64  # the firmware has about 25 files; a manifest stays a few KB
_PACKAGES = ("board/", "dialcore/")  # what an update may replace; main.py, the loader, never


def topic(device_id, suffix):
    return ROOT + "/" + device_id + "/" + suffix


def valid_device_id(device_id):
    """3..32 characters of a-z, 0-9 and '-', not starting with '-' (safe in topics and URLs)."""
    if not 3 <= len(device_id) <= 32 or device_id[0] == "-":
        return False
    return all("a" <= c <= "z" or "0" <= c <= "9" or c == "-" for c in device_id)


def parse_topic(name):
    """Return (device_id, suffix) for a protocol topic, or raise ValueError saying why not."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "signal":
        raise ValueError("not a signal/<version>/<device>/<suffix> topic")
    if parts[1] != "v" + str(VERSION):
        raise ValueError("unsupported protocol version in topic: " + parts[1])
    if not valid_device_id(parts[2]):
        raise ValueError("invalid device id in topic")
    if parts[3] not in SUFFIXES:
        raise ValueError("unknown topic suffix: " + parts[3])
    return parts[2], parts[3]


def _dump(message):
    message["v"] = VERSION
    return json.dumps(message).encode()


def encode_state(boot, seq, mode, config_version, channels, ts=None, source="dial", extra=None):
    """channels: list of (count, capacity) pairs in config order. extra: per channel, more
    fields for it (docs/protocol.md): "turned_away", {reason: running total of this boot},
    and "holds_ended", {hold id: "arrived" or "released"}; a channel with none has none."""
    listed = []
    for i, (c, cap) in enumerate(channels):
        channel = {"count": c, "capacity": cap}
        if extra and i < len(extra):
            channel.update(extra[i])
        listed.append(channel)
    return _dump(
        {
            "boot": boot,
            "seq": seq,
            "ts": ts,
            "mode": mode,
            "config_version": config_version,
            "source": source,
            "channels": listed,
        }
    )


def encode_status(state, boot, fw, config_version):
    return _dump({"state": state, "boot": boot, "fw": fw, "config_version": config_version})


def encode_telemetry(uptime_s, fw, queue, last_acked_seq, rssi=None, free_heap=None):
    return _dump(
        {
            "uptime_s": uptime_s,
            "rssi": rssi,
            "free_heap": free_heap,
            "fw": fw,
            "queue": queue,
            "last_acked_seq": last_acked_seq,
        }
    )


def encode_ack(boot, seq, result, reason=None, newest_boot=None):
    """newest_boot: only when the device's message came from an older boot than the newest
    the server has seen from it (a wiped or replaced board); the dial then numbers on above."""
    message = {"boot": boot, "seq": seq, "result": result, "reason": reason}
    if newest_boot is not None:
        message["newest_boot"] = newest_boot
    return _dump(message)


def encode_config(version, shelter, mode, channels, holds=None, extra=None):
    """channels: list of (label, capacity) pairs. holds: per channel, the places held for
    people on their way, [{"id", "code", "until" (Unix seconds)}]. extra: per channel, more
    fields: "closed" (true) and "count" (what the dial keeps there) of a closed program."""
    listed = [{"label": label, "capacity": cap} for label, cap in channels]
    for channel, held in zip(listed, holds or ()):
        if held:
            channel["holds"] = held
    for channel, more in zip(listed, extra or ()):
        channel.update(more)
    return _dump({"version": version, "shelter": shelter, "mode": mode, "channels": listed})


def decode(payload):
    """Parse a payload into a dict of a supported version, or raise ValueError saying why not."""
    try:
        message = json.loads(payload)
    except (ValueError, UnicodeError):
        raise ValueError("payload is not valid JSON") from None
    if not isinstance(message, dict):
        raise ValueError("payload is not a JSON object")
    if message.get("v") != VERSION:
        raise ValueError("unsupported protocol version: " + repr(message.get("v")))
    return message


def decode_ack(payload):
    """The ack's boot, seq, result, reason and newest_boot (None if absent), as a dict;
    ValueError if malformed."""
    m = decode(payload)
    boot, seq, result = m.get("boot"), m.get("seq"), m.get("result")
    if not isinstance(boot, int) or not isinstance(seq, int) or result not in ("saved", "rejected"):
        raise ValueError("malformed ack")
    newest = m.get("newest_boot")
    if newest is not None and not isinstance(newest, int):
        raise ValueError("malformed ack: newest_boot")
    return {
        "boot": boot,
        "seq": seq,
        "result": result,
        "reason": m.get("reason"),
        "newest_boot": newest,
    }


def decode_config(payload):
    """Return the config dict with channels as (label, capacity) pairs; ValueError if malformed."""
    m = decode(payload)
    version, shelter, mode, channels = (
        m.get("version"),
        m.get("shelter"),
        m.get("mode"),
        m.get("channels"),
    )
    if not isinstance(version, int) or version < 1:
        raise ValueError("config version must be a positive integer")
    if not isinstance(shelter, str) or not shelter:
        raise ValueError("config shelter must be a non-empty string")
    if mode not in MODES:
        raise ValueError("config mode must be one of " + ", ".join(MODES))
    if not isinstance(channels, list) or not 1 <= len(channels) <= 8:
        raise ValueError("config channels must be a list of 1 to 8 entries")
    pairs, holds, closed = [], [], []
    for ch in channels:
        if not isinstance(ch, dict):
            raise ValueError("config channel must be an object")
        label, cap = ch.get("label"), ch.get("capacity")
        if not isinstance(label, str) or not isinstance(cap, int) or cap < 0:
            raise ValueError("config channel needs a label and a capacity >= 0")
        pairs.append((label, cap))
        holds.append(ch.get("holds") or [])  # read by desk.py, which checks them
        closed.append(ch.get("closed") is True and ch)  # ditto, with the count to keep
    config = {"version": version, "shelter": shelter, "mode": mode, "channels": pairs}
    if any(holds):  # only then: a config without holds stays as it always was
        config["holds"] = holds
    if any(closed):
        config["closed"] = closed
    return config


# -- updates over the air ---------------------------------------------------------------------


def valid_update_path(path):
    """A file an update may write: <package>/<name>.py or .mpy, names of a-z, 0-9 and '_'."""
    if not isinstance(path, str) or path.count("/") != 1:
        return False
    package, name = path.split("/")
    if package + "/" not in _PACKAGES:
        return False
    stem = name[:-4] if name.endswith(".mpy") else name[:-3] if name.endswith(".py") else ""
    return 0 < len(stem) <= 32 and all("a" <= c <= "z" or "0" <= c <= "9" or c == "_" for c in stem)


def _valid_version(version):
    """1-32 of 0-9, a-z, A-Z, '.', '+', '-': semver, and safe as part of a folder name."""
    if not isinstance(version, str) or not 0 < len(version) <= 32:
        return False
    return all("a" <= c.lower() <= "z" or "0" <= c <= "9" or c in ".+-" for c in version)


def encode_ota(version, files):
    """The retained update order: files is a list of (path, size, sha256 hex); version None
    withdraws any order (the dial stops downloading and stays on what it runs)."""
    return _dump(
        {
            "version": version,
            "files": [{"path": p, "size": n, "sha256": h} for p, n, h in files],
        }
    )


def decode_ota(payload):
    """{"version": str or None, "files": [(path, size, sha256)]}; ValueError if malformed."""
    m = decode(payload)
    version, files = m.get("version"), m.get("files")
    if version is None:
        return {"version": None, "files": []}
    if not _valid_version(version):
        raise ValueError("ota version must be 1-32 of 0-9, a-z, A-Z, '.', '+' and '-'")
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_FILES:
        raise ValueError("ota files must be a list of 1 to " + str(MAX_FILES) + " entries")
    out = []
    for f in files:
        if not isinstance(f, dict):
            raise ValueError("ota file must be an object")
        path, size, digest = f.get("path"), f.get("size"), f.get("sha256")
        if not valid_update_path(path):
            raise ValueError("ota file path not allowed: " + repr(path))
        if not isinstance(size, int) or not 0 <= size <= 1 << 20:
            raise ValueError("ota file size must be 0 to 1 MiB")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("ota file sha256 must be 64 hex digits")
        out.append((path, size, digest.lower()))
    return {"version": version, "files": out}


def encode_fetch(version, path, offset):
    return _dump({"version": version, "path": path, "offset": offset})


def decode_fetch(payload):
    """(version, path, offset) the dial asks for; ValueError if malformed."""
    m = decode(payload)
    version, path, offset = m.get("version"), m.get("path"), m.get("offset")
    if not _valid_version(version) or not valid_update_path(path):
        raise ValueError("fetch needs a version and an update path")
    if not isinstance(offset, int) or offset < 0 or offset % CHUNK:
        raise ValueError("fetch offset must be a multiple of " + str(CHUNK))
    return version, path, offset


def encode_chunk(version, path, offset, data):
    import binascii  # only when updating: a module of its own on some ports, heap taken

    text = binascii.b2a_base64(data).decode().strip()
    return _dump({"version": version, "path": path, "offset": offset, "data": text})


def decode_chunk(payload):
    """{"version", "path", "offset", "data": bytes}; ValueError if malformed."""
    m = decode(payload)
    version, path, offset, text = m.get("version"), m.get("path"), m.get("offset"), m.get("data")
    if not _valid_version(version) or not valid_update_path(path):
        raise ValueError("chunk needs a version and an update path")
    if not isinstance(offset, int) or offset < 0 or not isinstance(text, str):
        raise ValueError("chunk needs an offset and data")
    import binascii  # as in encode_chunk

    try:
        data = binascii.a2b_base64(text)
    except ValueError:
        raise ValueError("chunk data is not base64") from None
    if len(data) > CHUNK:
        raise ValueError("chunk larger than " + str(CHUNK) + " bytes")
    return {"version": version, "path": path, "offset": offset, "data": data}


def encode_update(version, state, reason=None):
    """What the dial reports of an update: its state, and why when it failed or rolled back."""
    return _dump({"version": version, "state": state, "reason": reason})


def decode_update(payload):
    m = decode(payload)
    version, state, reason = m.get("version"), m.get("state"), m.get("reason")
    if not _valid_version(version) or state not in UPDATE_STATES:
        raise ValueError("update needs a version and a state")
    if reason is not None and not isinstance(reason, str):
        raise ValueError("update reason must be text")
    return {"version": version, "state": state, "reason": reason}
