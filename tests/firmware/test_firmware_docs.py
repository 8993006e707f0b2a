"""firmware/README.md must not drift from the firmware: config keys, screen states, LED.

The README's config table (between the config-keys markers) must list exactly the keys
of dialcore/devconfig.py, in the same order, with the same type, default and secret flag.
"""

import json
import re
from pathlib import Path

import pytest

from firmware.dialcore import devconfig, display
from server import provision

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "firmware/README.md"
ROW = re.compile(r"^\| `([\w.]+)` \| ([^|]+?) \| ([^|]+?) \| (yes|no) \| (.+?) \|$")


def readme_table():
    text = README.read_text()
    begin, end = "<!-- config-keys:begin -->", "<!-- config-keys:end -->"
    assert begin in text and end in text, "the config table markers are missing"
    lines = text.split(begin, 1)[1].split(end, 1)[0].strip().splitlines()
    assert lines[0] == "| key | type | default | secret | meaning |"
    rows = []
    for line in lines[2:]:
        match = ROW.match(line)
        assert match, f"not a config table row: {line!r}"
        rows.append(match.groups())
    return rows


def parse_default(cell):
    if cell == "required":
        return devconfig.REQUIRED
    assert cell.startswith("`") and cell.endswith("`"), f"default not in backticks: {cell!r}"
    return json.loads(cell[1:-1])


def same_value(a, b):
    return a is b or (type(a) is type(b) and a == b)


def test_the_readme_lists_every_config_key_in_schema_order():
    documented = [row[0] for row in readme_table()]
    assert documented == [row[0] for row in devconfig.rows()]


@pytest.mark.parametrize("row", devconfig.rows(), ids=lambda row: row[0])
def test_each_key_has_its_type_default_and_secret_flag(row):
    key, kind, default, secret, _ = row
    documented = {r[0]: r for r in readme_table()}
    assert key in documented, f"{key} is not in firmware/README.md"
    _, doc_type, doc_default, doc_secret, meaning = documented[key]
    assert doc_type == kind, key
    assert same_value(parse_default(doc_default), default), (key, doc_default, default)
    assert doc_secret == ("yes" if secret else "no"), key
    assert meaning.strip(), key


def test_a_drifted_default_would_be_caught():
    assert not same_value(parse_default("`1883`"), 1884)
    assert not same_value(parse_default("`false`"), 0)
    assert not same_value(parse_default("`null`"), "")
    assert same_value(parse_default("required"), devconfig.REQUIRED)


# How the README's screen table names each display state (dialcore/display.py).
SCREEN_PHRASES = {
    display.EDITING: "release to save",
    display.SENDING: "sending...",
    display.SAVED: "SAVED",
    display.READY: "ready",
    display.OFFLINE: "OFFLINE",
    display.REJECTED: "NOT SAVED",
}


def test_every_screen_state_is_explained():
    states = {v for k, v in vars(display).items() if k.isupper() and isinstance(v, str)}
    assert states == set(SCREEN_PHRASES), "a new display state: add it to the README's table"
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    for state, phrase in SCREEN_PHRASES.items():
        assert any(row.startswith("| `" + phrase) for row in rows), (state, phrase)


def test_the_flashing_steps_name_the_libraries_at_the_commits_device_flash_installs():
    lines = [line.strip() for line in README.read_text().splitlines()]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines if line[:1] == "|"]
    for library in provision.LIBRARIES:
        [row] = [row for row in rows if row[1:3] == [library.repository, library.commit]]
        assert f"`{library.source}`" in row[3], library.path
