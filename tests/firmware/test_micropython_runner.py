"""The MicroPython runner (tests/support/micropython.py) runs code on the real
interpreter, reports failures, and offers what the firmware relies on.

Each run starts a fresh interpreter in Node (about 0.1 s).
"""

import pathlib

import pytest

from tests.support.micropython import MicroPythonError, run_micropython


def test_returns_stdout_of_real_micropython() -> None:
    out = run_micropython("import sys\nprint(sys.implementation.name)\nprint(6 * 7)")
    assert out == "micropython\n42\n"


def test_exception_raises_with_traceback() -> None:
    with pytest.raises(MicroPythonError) as excinfo:
        run_micropython("print('before')\nraise ValueError('boom')")
    message = str(excinfo.value)
    assert "before" in message  # stdout so far is shown too
    assert "ValueError: boom" in message


def test_unretrieved_exception_in_asyncio_task_raises() -> None:
    code = """
import asyncio
async def crash():
    raise KeyError('lost')
asyncio.create_task(crash())
await asyncio.sleep_ms(10)
"""
    with pytest.raises(MicroPythonError, match="KeyError: lost"):
        run_micropython(code)


def test_timeout_raises() -> None:
    with pytest.raises(MicroPythonError, match="timed out"):
        run_micropython("while True:\n    pass", timeout=1)


def test_package_with_relative_imports_via_paths(tmp_path: pathlib.Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .values import ANSWER\n")
    (pkg / "values.py").write_text("ANSWER = 42\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "twice.py").write_text(
        "from ..values import ANSWER\ndef twice():\n    return 2 * ANSWER\n"
    )
    (pkg / "notes.txt").write_text("only .py files are copied")

    out = run_micropython(
        "import os, pkg\n"
        "from pkg.sub.twice import twice\n"
        "print(pkg.ANSWER, twice())\n"
        "print(sorted(os.listdir('/app/pkg')))",
        paths={"app": tmp_path},
    )
    assert out == "42 84\n['__init__.py', 'sub', 'values.py']\n"


def test_asyncio_runs_coroutines_with_top_level_await() -> None:
    code = """
import asyncio
async def tick(name, ms):
    await asyncio.sleep_ms(ms)
    print(name)
    return ms
async def main():
    return await asyncio.gather(tick('slow', 20), tick('fast', 1))
print(await main())
"""
    assert run_micropython(code) == "fast\nslow\n[20, 1]\n"


def test_os_rename_json_and_ticks_on_in_memory_fs() -> None:
    # What the firmware's store needs: write a temp file, then rename it over the old one.
    code = """
import gc, json, os, time
start = time.ticks_ms()
with open('/state.json', 'w') as f:
    json.dump({'count': 1}, f)
with open('/state.tmp', 'w') as f:
    json.dump({'count': 2}, f)
os.rename('/state.tmp', '/state.json')
with open('/state.json') as f:
    print(json.load(f))
print('state.tmp' in os.listdir('/'))
print(time.ticks_diff(time.ticks_ms(), start) >= 0, gc.mem_alloc() > 0)
"""
    assert run_micropython(code, heapsize=64 * 1024) == "{'count': 2}\nFalse\nTrue True\n"
