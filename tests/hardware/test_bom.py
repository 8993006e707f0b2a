"""The bill of materials: complete rows, a total under the budget, the README's table current."""

import pytest

from hardware.tools import bom, build

COLUMNS = [
    "part",
    "specification",
    "quantity",
    "example_part_number",
    "unit_price_cad",
    "alternatives",
]


def test_the_csv_has_the_columns_the_issue_asks_for():
    header = bom.BOM_CSV.read_text().splitlines()[0]
    assert header.split(",") == COLUMNS


def test_every_part_is_described_priced_and_counted():
    parts = bom.load()
    assert len({p.part for p in parts}) == len(parts)
    for p in parts:
        assert p.quantity > 0 and p.unit_price_cad > 0, p.part
        assert p.specification and p.example_part_number and p.alternatives, p.part


def test_the_issues_parts_are_all_there():
    names = {p.part for p in bom.load()}
    for needed in (
        "ESP32 board",
        "Rotary encoder",
        "Knob",
        "OLED screen",
        "Status LED",
        "USB power supply",
        "USB cable",
        "Enclosure",
        "Fasteners",
    ):
        assert needed in names


def test_a_dial_costs_less_than_the_target():
    assert bom.total(bom.load()) < bom.TARGET_CAD


def test_the_script_prints_the_total_and_fails_over_budget(capsys, monkeypatch):
    bom.main()
    assert (
        f"{bom.total(bom.load()):.2f} CAD (prices of {bom.PRICE_DATE})" in capsys.readouterr().out
    )
    dearer = [*bom.load(), bom.Part("Gold knob", "solid gold", 1, "none", bom.TARGET_CAD, "any")]
    monkeypatch.setattr(bom, "load", lambda: dearer)
    with pytest.raises(SystemExit, match="over the target of CAD 40"):
        bom.main()


def test_the_readme_table_states_the_current_total_and_price_date():
    table = build.section(build.README.read_text(), "bom")
    assert table == bom.markdown(bom.load()) + "\n"
    assert f"about CAD {bom.total(bom.load()):.2f}" in table and "2026-11" in table
    assert "approximate" in table
