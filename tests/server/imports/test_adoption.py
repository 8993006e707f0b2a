"""docs/city-adoption.md's two worked examples, run as the guide writes their commands: they
import with history, and their exports validate (HSDS against Open Referral's official
schemas, GeoJSON per RFC 7946)."""

import csv
import json
import re
import shlex
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.cli import main
from server.settings import get_settings
from tests.support.data import hsds_errors, hsds_validators, rfc7946_problems

REPO = Path(__file__).resolve().parents[3]
GUIDE = REPO / "docs/city-adoption.md"


def example(title: str) -> tuple[list[str], list[str]]:
    """The shell lines of a worked example's command block, and the outputs it quotes."""
    section = GUIDE.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", section, re.S)[0].splitlines()
    quoted = re.findall(r"```\n(\d+ rows: .*?)\n```", section)
    return commands, quoted


def run_guide(lines: list[str], folder: Path, monkeypatch, capsys) -> list[str]:
    """Each line run as the guide says, from the repository's folder: `export` sets the
    settings (its database goes to `folder`), `shelter-signal ...` runs the command, and
    files written with -o go to `folder`. The standard output of each command."""
    monkeypatch.chdir(REPO)
    outputs = []
    for line in lines:
        words = shlex.split(line)
        if words[0] == "export":
            for setting in words[1:]:
                name, _, value = setting.partition("=")
                if name == "SIGNAL_DATABASE_URL":
                    value = f"sqlite:///{folder / value.rsplit('/', 1)[1]}"
                monkeypatch.setenv(name, value)
            continue
        assert words[0] == "shelter-signal", line
        args = words[1:]
        if "-o" in args:
            at = args.index("-o") + 1
            args[at] = str(folder / args[at])
        get_settings.cache_clear()
        try:
            main(args)
        except SystemExit as e:
            assert e.code in (0, None), f"{line}: exit {e.code}: {capsys.readouterr().err}"
        outputs.append(capsys.readouterr().out)
    get_settings.cache_clear()
    return outputs


@pytest.fixture(scope="module")
def validators():
    return hsds_validators()


def test_riverton_name_keyed_daily_counts(tmp_path, monkeypatch, capsys, validators):
    commands, quoted = example("Worked example 1")
    outputs = run_guide(commands, tmp_path, monkeypatch, capsys)
    assert "dry run: nothing saved" in outputs[0]
    assert outputs[1].strip() == quoted[0]  # the guide quotes what the import says

    hsds = json.loads((tmp_path / "riverton-hsds.json").read_text())
    assert hsds_errors(hsds, validators) == []
    services = {s["name"]: s for s in hsds["contents"]}
    assert sorted(services) == [
        "Grace Centre",
        "Grace Centre Youth",
        "Hope House",
        "Hope House - Overflow",
    ]  # two programs under one shelter name stay two; St. Anne's is confidential
    hope = services["Hope House"]["capacities"][0]
    assert (hope["maximum"], hope["available"]) == (45, 4)  # the newest night, 9/11
    counted = datetime(2021, 9, 12, 6, tzinfo=ZoneInfo("America/Chicago"))  # 6 AM, next morning
    assert datetime.fromisoformat(hope["updated"]) == counted
    overflow = services["Hope House - Overflow"]["capacities"][0]
    assert (overflow["maximum"], overflow["available"]) == (10, 1)
    [address] = services["Grace Centre"]["service_at_locations"][0]["location"]["addresses"]
    assert (address["city"], address["state_province"], address["country"]) == (
        "East Riverton",
        "MN",
        "US",
    )

    geojson = json.loads((tmp_path / "riverton.geojson").read_text())
    assert rfc7946_problems(geojson) == []
    points = {f["properties"]["name"]: f["geometry"]["coordinates"] for f in geojson["features"]}
    assert points == {"Grace Centre": [-93.2511, 44.9712], "Hope House": [-93.2702, 44.9801]}

    nights = list(csv.DictReader((tmp_path / "riverton-nights.csv").read_text().splitlines()))
    assert len(nights) == 15  # three nights, five programs, in one file
    assert {r["OCCUPANCY_DATE"] for r in nights} == {"2021-09-09", "2021-09-10", "2021-09-11"}


def test_lakeside_site_list_with_bed_type_columns(tmp_path, monkeypatch, capsys, validators):
    commands, quoted = example("Worked example 2")
    outputs = run_guide(commands, tmp_path, monkeypatch, capsys)
    assert outputs[0].strip() == quoted[0]

    hsds = json.loads((tmp_path / "lakeside-hsds.json").read_text())
    assert hsds_errors(hsds, validators) == []
    capacity = {
        s["name"]: (s["capacities"][0]["unit"]["name"], s["capacities"][0]["maximum"])
        for s in hsds["contents"]
    }
    assert capacity == {
        "Harbour Shelter: Men": ("Bed", 30),
        "Harbour Shelter: Women": ("Bed", 10),
        "North Beach House: Families": ("Room", 4),
        "North Beach House: Women": ("Bed", 12),
        "North Beach House: Youth": ("Bed", 6),
    }  # Old Mill is closed: filtered out

    geojson = json.loads((tmp_path / "lakeside.geojson").read_text())
    assert rfc7946_problems(geojson) == []
    points = {f["properties"]["name"]: f["geometry"]["coordinates"] for f in geojson["features"]}
    assert points == {
        "Harbour Shelter": [-76.4812, 44.2301],  # the "lon,lat" column, longitude first
        "North Beach House": [-76.5004, 44.2533],
    }
