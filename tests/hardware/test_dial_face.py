"""The dial face: true size for the printed lid, one tick per click, turns for the capacity."""

import math
import xml.etree.ElementTree as ET

import pytest

from hardware.tools import HARDWARE, build, dial_face, enclosure

SVG = "{http://www.w3.org/2000/svg}"


def _parse(text):
    return ET.fromstring(text.encode())


def test_it_is_sized_for_the_lid_and_prints_at_true_size():
    root = _parse(dial_face.svg_text(40))
    assert root.get("width").endswith("mm") and root.get("height").endswith("mm")
    radii = sorted(float(c.get("r")) for c in root.iter(f"{SVG}circle"))
    assert radii == [enclosure.param("shaft_hole_d") / 2, enclosure.param("label_d") / 2]


def test_there_is_one_tick_per_click_outside_the_knob():
    root = _parse(dial_face.svg_text(40))
    centre = float(root.get("width")[:-2]) / 2
    ticks = [
        line
        for line in root.iter(f"{SVG}line")
        if math.isclose(
            math.dist((float(line.get("x1")), float(line.get("y1"))), (centre, centre)),
            enclosure.param("knob_d") / 2 + 0.5,
            abs_tol=0.02,  # coordinates are written to 0.01 mm
        )
    ]
    assert len(ticks) == dial_face.DETENTS
    texts = [t.text for t in root.iter(f"{SVG}text") if t.text]
    assert texts[:4] == ["20", "5", "10", "15"]  # a number every five clicks, clockwise


@pytest.mark.parametrize(
    ("capacity", "words"),
    [
        (1, "1 click"),
        (12, "12 clicks"),
        (20, "20 clicks"),
        (30, "1\u00bd turns"),
        (40, "2 turns"),
        (41, "about 2 turns"),
        (45, "2\u00bc turns"),
        (200, "10 turns"),
    ],
)
def test_it_says_how_far_empty_to_full_is(capacity, words):
    assert dial_face.turns_text(capacity) == words
    assert f"0 to {capacity}: {words}" in dial_face.svg_text(capacity)


def test_the_direction_that_adds_is_worded_for_the_mode():
    assert "turn right \u2192 +1: one more in" in dial_face.svg_text(40)
    assert "turn right \u2192 +1: one more free" in dial_face.svg_text(40, "free")


def test_impossible_capacities_and_modes_are_refused(capsys):
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        dial_face.svg_text(0)
    with pytest.raises(ValueError, match="mode must be one of occupied, free"):
        dial_face.svg_text(40, "empty")
    with pytest.raises(SystemExit):
        dial_face.main(["--capacity", "0"])
    assert "capacity must be at least 1, not 0" in capsys.readouterr().err


def test_the_example_in_the_repository_is_current():
    example = (HARDWARE / "dial-face.svg").read_text()
    assert example == dial_face.svg_text(build.EXAMPLE_CAPACITY)
