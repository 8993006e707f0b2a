"""The device's own settings file, device_config.json: its keys as data, and their checks.

Everything a dial needs before it can reach the server (Wi-Fi, broker, pins) lives in
this one file on the device's flash; everything else (shelter name, channels,
capacities) comes from the server over MQTT. firmware/README.md has the same table
for people, and tests/firmware/test_firmware_docs.py keeps the two equal.

Hardware-free: runs on the ESP32, under the MicroPython interpreter in tests and under
CPython, so only the subset both share is used (no typing, no dataclasses, no f-strings).
"""

import json

from . import protocol
from .store import write_json

# JSON type names, as the README table shows them.
STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
STRING_OR_NULL = "string or null"


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()  # the "default" of a key the file must give

# key: (type, default or REQUIRED, secret, meaning). Secrets are masked in logs.
KEYS = (
    (
        "device_id",
        STRING,
        REQUIRED,
        False,
        "This dial's name in MQTT topics and on the map: 3-32 of a-z, 0-9 and '-'",
    ),
    ("wifi_ssid", STRING, REQUIRED, False, "Wi-Fi network name (1-32 characters)"),
    (
        "wifi_password",
        STRING,
        REQUIRED,
        True,
        'Wi-Fi passphrase: 8-63 characters (or a 64-hex-digit key); "" for an open network',
    ),
    (
        "mqtt_host",
        STRING,
        REQUIRED,
        False,
        "MQTT broker host name or IP address; with TLS, the name in its certificate",
    ),
    ("mqtt_port", INTEGER, 1883, False, "MQTT broker port, 1-65535 (8883 is usual with TLS)"),
    ("mqtt_user", STRING_OR_NULL, None, False, "MQTT user name; null: connect without one"),
    ("mqtt_password", STRING_OR_NULL, None, True, "MQTT password; needs mqtt_user"),
    (
        "mqtt_tls",
        BOOLEAN,
        False,
        False,
        "Encrypt the MQTT link and verify the broker's certificate against mqtt_ca_file",
    ),
    (
        "mqtt_ca_file",
        STRING_OR_NULL,
        None,
        False,
        "Path on the device of the CA certificate (DER) that signed the broker's; "
        "required with mqtt_tls",
    ),
    (
        "ntp_host",
        STRING,
        "pool.ntp.org",
        False,
        "Time server; until one answers, commits carry no time (ts null)",
    ),
    (
        "ntp_port",
        INTEGER,
        123,
        False,
        "Time server's UDP port, 1-65535 (123; another only for a local server that needs one)",
    ),
    (
        "settle_ms",
        INTEGER,
        2000,
        False,
        "How long the dial must be still before a change is saved, 300-60000 ms",
    ),
    ("telemetry_s", INTEGER, 60, False, "Seconds between health reports, 10-3600"),
    (
        "offline_reboot_min",
        INTEGER,
        30,
        False,
        "Restart after this many minutes without the broker, 5-1440: a stuck Wi-Fi or "
        "network stack starts afresh (counts are kept on flash)",
    ),
    (
        "oled_address",
        INTEGER,
        60,
        False,
        "I2C address of the SSD1306 screen: 60 (0x3C), on some boards 61 (0x3D)",
    ),
    (
        "screen_flip",
        BOOLEAN,
        False,
        False,
        "Turn the picture 180 degrees (screen mounted upside down)",
    ),
)

# The "pins" object: GPIO numbers of an ESP32 DevKitC. Every default is a plain I/O pin
# with an internal pull-up that is neither a strapping pin nor input-only (see PIN_RULES).
PINS = (
    (
        "encoder_a",
        32,
        "Encoder phase A (EC11 pin A; common pin C to GND). Swap with encoder_b "
        "if turning clockwise counts down",
    ),
    ("encoder_b", 33, "Encoder phase B (EC11 pin B)"),
    ("encoder_switch", 27, "Encoder push switch, the other switch pin to GND"),
    ("i2c_sda", 21, "Screen SDA: the ESP32's customary I2C data pin"),
    ("i2c_scl", 22, "Screen SCL: the ESP32's customary I2C clock pin"),
    ("led", 25, "Status LED anode, through a 330 ohm resistor; cathode to GND"),
)

# Why some GPIOs are refused, in the order they are checked.
PIN_RULES = (
    (
        (6, 7, 8, 9, 10, 11),
        "is wired to the module's flash chip: using it crashes the ESP32",
    ),
    (
        (0, 2, 5, 12, 15),
        "is a strapping pin, read at reset to choose boot mode and flash voltage: a "
        "pull-up or a held button there can stop the board from booting",
    ),
    ((1, 3), "is the USB serial console (UART0 TX/RX) used by the REPL and mpremote"),
    (
        (34, 35, 36, 37, 38, 39),
        "is input-only and has no internal pull-up: an encoder, switch or I2C line "
        "there floats, and it cannot drive the LED",
    ),
)
NO_SUCH_GPIO = (20, 24, 28, 29, 30, 31)  # gaps in the ESP32's GPIO numbering

# Integer keys and their allowed ranges (inclusive).
LIMITS = {
    "mqtt_port": (1, 65535),
    "ntp_port": (1, 65535),
    "settle_ms": (300, 60000),  # shorter commits mid-turn; longer and staff walk away unsaved
    "telemetry_s": (10, 3600),  # the server marks a dial stale after a few missed reports
    # Shorter restarts the dial during an ordinary broker restart or Wi-Fi hiccup; after a
    # day without the broker a restart more or less makes no difference.
    "offline_reboot_min": (5, 1440),
    "oled_address": (60, 61),  # the two addresses an SSD1306 can be strapped to
}

SECRET_MASK = "***"


def _type_ok(kind, value):
    if kind == STRING:
        return isinstance(value, str)
    if kind == STRING_OR_NULL:
        return value is None or isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    # INTEGER: JSON true/false are bools, which Python also counts as ints
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return "array"
    return "object"


def _fail(key, problem):
    raise ValueError(key + ": " + problem)


def _check_type(key, kind, value):
    if not _type_ok(kind, value):
        _fail(key, "must be " + kind + ", not " + _json_type(value))


def _check_pin(key, pin, used):
    if not 0 <= pin <= 39 or pin in NO_SUCH_GPIO:
        _fail(key, "GPIO " + str(pin) + " does not exist on the ESP32")
    for pins, why in PIN_RULES:
        if pin in pins:
            _fail(key, "GPIO " + str(pin) + " " + why)
    if pin in used:
        _fail(key, "GPIO " + str(pin) + " is already used by " + used[pin])
    used[pin] = key


def _load_pins(raw):
    if not isinstance(raw, dict):
        _fail("pins", "must be object, not " + _json_type(raw))
    names = [name for name, _, _ in PINS]
    for name in raw:
        if name not in names:
            _fail("pins." + str(name), "unknown key (known: " + ", ".join(names) + ")")
    pins = {}
    used = {}
    for name, default, _ in PINS:
        key = "pins." + name
        value = raw.get(name, default)
        _check_type(key, INTEGER, value)
        _check_pin(key, value, used)
        pins[name] = value
    return pins


def _is_psk(text):
    """A raw WPA2 key: exactly 64 hex digits."""
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _check_values(config):
    device_id = config["device_id"]
    if not protocol.valid_device_id(device_id):
        _fail(
            "device_id",
            repr(device_id) + " is not 3-32 of a-z, 0-9 and '-' (not starting with '-')",
        )
    if not 1 <= len(config["wifi_ssid"]) <= 32:
        _fail("wifi_ssid", "must be 1-32 characters")
    password = config["wifi_password"]
    if password and not (8 <= len(password) <= 63 or _is_psk(password)):
        _fail("wifi_password", 'must be 8-63 characters, 64 hex digits, or "" (open network)')
    for key in ("mqtt_host", "ntp_host"):
        if not config[key] or " " in config[key]:
            _fail(key, "must be a host name or IP address")
    for key in LIMITS:
        low, high = LIMITS[key]
        if not low <= config[key] <= high:
            _fail(key, "must be " + str(low) + "-" + str(high) + ", not " + str(config[key]))
    if config["mqtt_password"] is not None and not config["mqtt_user"]:
        _fail("mqtt_password", "is set but mqtt_user is not")
    if config["mqtt_tls"] and not config["mqtt_ca_file"]:
        _fail("mqtt_ca_file", "is required when mqtt_tls is true (the broker is verified)")


def load(raw):
    """Return the complete config (defaults filled in) or raise ValueError naming the key."""
    if not isinstance(raw, dict):
        raise ValueError("device_config.json must hold a JSON object, not " + _json_type(raw))
    names = [key for key, _, _, _, _ in KEYS] + ["pins"]
    for key in raw:
        if key not in names:
            _fail(str(key), "unknown key")
    config = {}
    for key, kind, default, _, _ in KEYS:
        if key not in raw:
            if default is REQUIRED:
                _fail(key, "is required but missing")
            config[key] = default
            continue
        _check_type(key, kind, raw[key])
        config[key] = raw[key]
    config["pins"] = _load_pins(raw.get("pins", {}))
    _check_values(config)
    return config


def read_raw(path):
    """What the JSON file at path holds, as written; None if there is no file.

    ValueError naming the file if it is not JSON; load() checks the contents.
    """
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(path + " is not valid JSON") from None


def read(path):
    """load() the JSON file at path; ValueError (naming the file or the key) if it won't do."""
    raw = read_raw(path)
    if raw is None:
        raise ValueError(path + " is missing: copy device_config.example.json there")
    return load(raw)


def write(path, raw):
    """Save a config (checked with load() first) so that a power cut leaves old or new whole."""
    write_json(path, raw)


def masked(config):
    """A copy of config fit for logs: every secret that is set reads "***"."""
    out = {}
    for key in config:
        out[key] = config[key]
    for key, _, _, secret, _ in KEYS:
        if secret and out.get(key) is not None:
            out[key] = SECRET_MASK
    if isinstance(out.get("pins"), dict):
        out["pins"] = dict(out["pins"])
    return out


def defaults():
    """The pin numbers and other defaults, for showing an error before a config loaded."""
    config = {}
    for key, _, default, _, _ in KEYS:
        config[key] = None if default is REQUIRED else default
    config["pins"] = {}
    for name, default, _ in PINS:
        config["pins"][name] = default
    return config


def rows():
    """Every key, pins flattened as "pins.<name>": (key, type, default, secret, meaning)."""
    out = list(KEYS)
    for name, default, meaning in PINS:
        out.append(("pins." + name, INTEGER, default, False, meaning))
    return out
