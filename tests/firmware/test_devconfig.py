"""The device's settings file: the example loads, every kind of mistake names its key.

Runs under CPython here; the same module runs on the ESP32, so the checks that matter
there (error messages, masking) are repeated under the real MicroPython interpreter.
"""

import json
from pathlib import Path

import pytest

from firmware.dialcore import devconfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "firmware/device_config.example.json"


DELETE = object()  # with_change(key=DELETE) leaves the key out


def example():
    return json.loads(EXAMPLE.read_text())


def with_change(**changes):
    raw = example()
    for key, value in changes.items():
        if value is DELETE:
            del raw[key]
        else:
            raw[key] = value
    return raw


def error_of(raw):
    with pytest.raises(ValueError) as caught:
        devconfig.load(raw)
    return str(caught.value)


def test_the_committed_example_is_valid_and_complete():
    config = devconfig.load(example())
    assert set(config) == {key for key, *_ in devconfig.KEYS} | {"pins"}
    assert set(example()) == set(config), "the example shows every key"
    assert config["device_id"] == "front-desk-1"


def test_the_real_config_file_is_not_committed():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/firmware/device_config.json" in ignored


def test_defaults_fill_what_the_file_leaves_out():
    raw = {key: value for key, value in example().items() if key in _required_keys()}
    config = devconfig.load(raw)
    assert config["mqtt_port"] == 1883
    assert config["mqtt_tls"] is False
    assert config["mqtt_ca_file"] is None
    assert config["settle_ms"] == 2000
    assert config["telemetry_s"] == 60
    assert config["ntp_host"] == "pool.ntp.org"
    assert config["pins"] == {name: default for name, default, _ in devconfig.PINS}


def test_a_partial_pins_object_keeps_the_other_defaults():
    config = devconfig.load(with_change(pins={"led": 26}))
    assert config["pins"]["led"] == 26
    assert config["pins"]["encoder_a"] == 32


def _required_keys():
    return [key for key, _, default, *_ in devconfig.KEYS if default is devconfig.REQUIRED]


@pytest.mark.parametrize("key", _required_keys())
def test_a_missing_required_key_is_named(key):
    assert error_of(with_change(**{key: DELETE})).startswith(key + ": is required")


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        (with_change(wifi_pasword="x"), "wifi_pasword: unknown key"),
        (with_change(pins={"encoder_c": 4}), "pins.encoder_c: unknown key"),
        (with_change(mqtt_port="1883"), "mqtt_port: must be integer, not string"),
        (with_change(mqtt_port=1883.0), "mqtt_port: must be integer, not number"),
        (with_change(settle_ms=True), "settle_ms: must be integer, not boolean"),
        (with_change(mqtt_tls="yes"), "mqtt_tls: must be boolean, not string"),
        (with_change(device_id=7), "device_id: must be string, not integer"),
        (with_change(mqtt_user=["a"]), "mqtt_user: must be string or null, not array"),
        (with_change(pins=[32, 33]), "pins: must be object, not array"),
        (with_change(pins={"led": "25"}), "pins.led: must be integer, not string"),
    ],
)
def test_unknown_keys_and_wrong_types_are_named(raw, start):
    assert error_of(raw).startswith(start)


@pytest.mark.parametrize("device_id", ["Front Desk", "ab", "-desk", "x" * 33, "desk_1"])
def test_a_bad_device_id_is_named(device_id):
    message = error_of(with_change(device_id=device_id))
    assert message.startswith("device_id: " + repr(device_id))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mqtt_port", 0),
        ("mqtt_port", 65536),
        ("settle_ms", 299),
        ("settle_ms", 60001),
        ("telemetry_s", 9),
        ("telemetry_s", 3601),
        ("oled_address", 0x3E),
    ],
)
def test_out_of_range_numbers_are_named(key, value):
    assert error_of(with_change(**{key: value})).startswith(key + ": must be ")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("wifi_ssid", ""),
        ("wifi_ssid", "x" * 33),
        ("wifi_password", "short"),
        ("wifi_password", "x" * 64),  # 64 characters must be a hex key
        ("mqtt_host", ""),
        ("ntp_host", "pool ntp org"),
    ],
)
def test_bad_strings_are_named(key, value):
    assert error_of(with_change(**{key: value})).startswith(key + ": ")


def test_open_networks_and_raw_keys_are_allowed():
    assert devconfig.load(with_change(wifi_password=""))["wifi_password"] == ""
    assert devconfig.load(with_change(wifi_password="ab" * 32))["wifi_password"] == "ab" * 32


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        (12, "strapping pin"),
        (0, "strapping pin"),
        (7, "flash chip"),
        (1, "serial console"),
        (35, "input-only"),
        (20, "does not exist"),
        (40, "does not exist"),
    ],
)
def test_unusable_pins_are_refused_with_the_reason(pin, why):
    message = error_of(with_change(pins={"encoder_a": pin}))
    assert message.startswith("pins.encoder_a: GPIO " + str(pin))
    assert why in message


def test_a_pin_used_twice_names_both_keys():
    message = error_of(with_change(pins={"led": 32}))
    assert message.startswith("pins.") and "already used by pins." in message


def test_cross_key_rules_name_the_key_to_fix():
    assert error_of(with_change(mqtt_tls=True, mqtt_ca_file=None)).startswith("mqtt_ca_file: ")
    assert error_of(with_change(mqtt_user=None)).startswith("mqtt_password: ")
    tls = devconfig.load(with_change(mqtt_tls=True, mqtt_ca_file="/ca.der", mqtt_port=8883))
    assert tls["mqtt_tls"] is True


def test_not_an_object_is_refused():
    with pytest.raises(ValueError, match="JSON object"):
        devconfig.load([])


def test_read_names_the_file_when_it_is_missing_or_not_json(tmp_path):
    missing = tmp_path / "device_config.json"
    with pytest.raises(ValueError, match=r"device_config\.json is missing"):
        devconfig.read(str(missing))
    missing.write_text("{not json")
    with pytest.raises(ValueError, match=r"device_config\.json is not valid JSON"):
        devconfig.read(str(missing))
    missing.write_text(json.dumps(with_change(mqtt_port=0)))
    with pytest.raises(ValueError, match=r"^mqtt_port: "):
        devconfig.read(str(missing))


def test_masked_hides_every_secret_and_nothing_else():
    config = devconfig.load(example())
    shown = devconfig.masked(config)
    secrets = {key for key, _, _, secret, _ in devconfig.KEYS if secret}
    assert secrets == {"wifi_password", "mqtt_password"}
    for key in secrets:
        assert shown[key] == "***"
        assert config[key] not in json.dumps(shown)
    assert {k: v for k, v in shown.items() if k not in secrets} == {
        k: v for k, v in config.items() if k not in secrets
    }
    assert config["wifi_password"] == "change-me-please", "the config itself is untouched"


def test_masked_leaves_an_unset_secret_visible_as_unset():
    config = devconfig.load(with_change(mqtt_user=None, mqtt_password=None))
    assert devconfig.masked(config)["mqtt_password"] is None


def test_defaults_give_pins_to_show_an_error_with():
    assert devconfig.defaults()["pins"]["led"] == 25
    assert devconfig.defaults()["device_id"] is None


def test_rows_flatten_pins_for_the_docs():
    keys = [row[0] for row in devconfig.rows()]
    assert "pins.encoder_a" in keys and "pins" not in keys
    assert len(keys) == len(set(keys))


# -- the same module under the real MicroPython interpreter -----------------------------

MICROPYTHON_CASES = [
    example(),
    with_change(wifi_ssid=DELETE),
    with_change(wifi_pasword="x"),
    with_change(pins={"encoder_c": 4}),
    with_change(mqtt_port="1883"),
    with_change(mqtt_port=1883.0),
    with_change(settle_ms=True),
    with_change(mqtt_user=["a"]),
    with_change(device_id="Front Desk"),
    with_change(device_id="-desk"),
    with_change(telemetry_s=3601),
    with_change(wifi_password="short"),
    with_change(wifi_password="ab" * 32),
    with_change(pins={"encoder_a": 12}),
    with_change(pins={"encoder_a": 35}),
    with_change(pins={"led": 32}),
    with_change(mqtt_tls=True),
    with_change(mqtt_user=None),
    [],
]

MICROPYTHON_CODE = """
import json
from dialcore import devconfig

def outcome(raw):
    try:
        return ["ok", devconfig.load(raw)]
    except ValueError as e:
        return ["error", str(e)]

cases = json.loads(CASES)
print("@", json.dumps([outcome(raw) for raw in cases]))
print("@", json.dumps(devconfig.masked(devconfig.load(cases[0]))))
print("@", json.dumps([list(row[:2]) + [repr(row[2]), row[3]] for row in devconfig.rows()]))
"""


def _cpython_outcome(raw):
    try:
        return ["ok", devconfig.load(raw)]
    except ValueError as e:
        return ["error", str(e)]


def test_micropython_gives_the_same_results_and_messages():
    from tests.support.micropython import run_micropython

    code = "CASES = " + repr(json.dumps(MICROPYTHON_CASES)) + "\n" + MICROPYTHON_CODE
    printed = run_micropython(code, paths={"/fw": ROOT / "firmware"})
    outcomes, shown, rows = (
        json.loads(line[2:]) for line in printed.splitlines() if line.startswith("@ ")
    )
    expected = json.loads(json.dumps([_cpython_outcome(raw) for raw in MICROPYTHON_CASES]))
    assert outcomes == expected
    assert [kind for kind, _ in outcomes].count("ok") == 2  # the example and the raw key
    assert shown["wifi_password"] == "***" and shown["mqtt_password"] == "***"
    assert shown["device_id"] == "front-desk-1"
    assert rows == [
        [key, kind, repr(default), secret] for key, kind, default, secret, _ in devconfig.rows()
    ]
