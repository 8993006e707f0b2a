"""Docs that must not drift from the code: settings, README commands, protocol schemas."""

import re
import tomllib
from pathlib import Path

from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_with_its_default():
    text = (ROOT / "docs/operations.md").read_text()
    documented = dict(re.findall(r"^\| `SIGNAL_(\w+)` \| (.+?) \|", text, re.MULTILINE))
    expected = {
        name.upper(): "(unset)" if field.default is None else f"`{field.default}`"
        for name, field in Settings.model_fields.items()
    }
    assert documented == expected


def test_readme_commands_are_the_ones_make_and_ci_use():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci/run").read_text().strip().splitlines()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, re.MULTILINE)
    assert commands == ["make run", "make test"]
    for command in commands:
        assert re.search(rf"^{command.split()[1]}:", makefile, re.MULTILINE), command
    assert ci[-1] == "make test"


def test_protocol_doc_links_every_schema():
    text = (ROOT / "docs/protocol.md").read_text()
    for schema in sorted((ROOT / "server/protocol").glob("*.schema.json")):
        assert f"(../server/protocol/{schema.name})" in text


def test_readme_names_the_python_versions_pyproject_allows():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lower, upper = re.fullmatch(
        r">=3\.(\d+),<3\.(\d+)", pyproject["project"]["requires-python"]
    ).groups()
    minors = [f"3.{n}" for n in range(int(lower), int(upper))]
    allowed = ", ".join(minors[:-1]) + f" or {minors[-1]}"
    assert f"Needs Python {allowed} " in (ROOT / "README.md").read_text()


def test_readme_names_the_ports_run_listens_on_and_their_settings():
    readme = (ROOT / "README.md").read_text()
    for host, port in (("http_host", "http_port"), ("broker_host", "broker_port")):
        fields = Settings.model_fields
        assert f"`{fields[host].default}:{fields[port].default}`" in readme
        assert f"`SIGNAL_{port.upper()}`" in readme
    assert "`SIGNAL_MQTT_URL`" in readme
