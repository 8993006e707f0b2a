"""The enclosure renders cleanly with the openscad command, as the guide runs it."""

import re
import shlex
import subprocess

import pytest

from hardware.tools import DOCS_IMG, ROOT, enclosure
from tests.hardware.test_guide import GUIDE, _guide_commands
from tests.support.waiting import scaled

FAST = {"$fn": 16}  # coarser circles: the same shapes in a fraction of the time


def _size(stl):
    """The bounding box (x, y, z) of an ASCII STL, in mm."""
    points = [
        tuple(map(float, line.split()[1:]))
        for line in stl.read_text().splitlines()
        if line.strip().startswith("vertex")
    ]
    return tuple(round(max(p[i] for p in points) - min(p[i] for p in points), 1) for i in range(3))


def test_the_guides_commands_export_clean_stl_files(tmp_path):
    commands = _guide_commands("openscad ")
    assert len(commands) == 3  # base, lid, wall-mount base
    sizes = {}
    for number, line in enumerate(commands):
        words = shlex.split(line)
        out = tmp_path / f"{number}.stl"
        words[words.index("-o") + 1] = str(out)
        done = subprocess.run(words, cwd=ROOT, capture_output=True, text=True, timeout=scaled(300))
        log = done.stdout + done.stderr
        assert done.returncode == 0 and "WARNING" not in log and "ERROR" not in log, log
        sizes[line] = _size(out)
    base, lid, wall_base = sizes.values()
    assert base == wall_base and base[:2] == lid[:2]
    stated = re.search(r"The box is about (\d+) x (\d+) x (\d+) mm", GUIDE).groups()
    lid_t = enclosure.param("lid_t")
    assert tuple(map(int, stated)) == tuple(round(v) for v in (*base[:2], base[2] + lid_t))


def test_the_wall_mount_option_cuts_the_keyholes(tmp_path):
    plain, hanging = tmp_path / "plain.stl", tmp_path / "hanging.stl"
    enclosure.render(plain, {"part": "base", **FAST})
    enclosure.render(hanging, {"part": "base", "wall_mount": True, **FAST})
    facets = [stl.read_text().count("facet normal") for stl in (plain, hanging)]
    assert facets[1] > facets[0]


def test_a_bigger_dial_face_makes_a_wider_box(tmp_path):
    usual, wide = tmp_path / "usual.stl", tmp_path / "wide.stl"
    enclosure.render(usual, {"part": "lid", **FAST})
    enclosure.render(wide, {"part": "lid", "label_d": enclosure.param("label_d") + 20, **FAST})
    assert _size(wide)[0] == pytest.approx(_size(usual)[0] + 20, abs=0.1)


def test_the_pictures_in_the_docs_render_headless(tmp_path):
    enclosure.render_docs(tmp_path)
    for name in enclosure.RENDERS:
        picture = (tmp_path / name).read_bytes()
        assert picture.startswith(b"\x89PNG\r\n\x1a\n") and len(picture) > 5000
        assert (DOCS_IMG / name).exists(), "run: python -m hardware.tools.build --renders"


def test_a_mistake_in_the_model_is_an_error_not_a_picture(tmp_path):
    with pytest.raises(enclosure.OpenScadError, match='part must be "base", "lid" or'):
        enclosure.render(tmp_path / "x.stl", {"part": "handle"})
