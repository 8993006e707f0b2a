"""Shared pytest fixtures: real services, started once per test session.

The services come from tests/support/services.py. If one cannot start (say mosquitto is
not installed), the fixture raises and every test using it ERRORS with a message naming
the package to install: we never skip silently.

Importing ``tests.support.services`` needs ``tests`` to be importable. Under
``--import-mode=importlib`` pytest (8.2 and newer) imports this file as ``tests.conftest``
relative to the rootdir, which makes it work; ``pythonpath = ["."]`` in pyproject's
``[tool.pytest.ini_options]`` makes it work without relying on that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import Mosquitto, Postgres, chromium_launch_options
from tests.support.waiting import scaled

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE_WAIT_MS = scaled(30) * 1000  # Playwright's default wait (30 s), scaled like every other


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """pytest-timeout's limit per test (pyproject.toml) is scaled like every other wait,
    unless --timeout or PYTEST_TIMEOUT sets it."""
    if config.option.timeout is None and "PYTEST_TIMEOUT" not in os.environ:
        config.option.timeout = scaled(float(config.getini("timeout")))


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """A real mosquitto broker on 127.0.0.1; see ``.url``, ``.port``, ``.restart()``.

    Shared by the whole session: use unique topic names per test.
    """
    with Mosquitto() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster; ``.url`` for SQLAlchemy, ``.libpq_url`` for psycopg.

    Shared by the whole session: call ``postgres.new_database(name)`` for a clean database.
    """
    with Postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Playwright sync API), shared by the session.

    Open a fresh ``browser.new_context()`` or ``browser.new_page()`` per test so cookies
    and storage do not leak between tests; close it at the end of the test.
    """
    # Imported here so tests that need no browser don't pay for Playwright's import.
    from playwright.sync_api import sync_playwright

    options = chromium_launch_options()  # raises a clear error if Chromium is missing
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**options)
        yield _ScaledWaits(chromium)
        chromium.close()


class _ScaledWaits:
    """A Playwright browser whose contexts and pages wait PAGE_WAIT_MS by default."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.set_default_timeout(PAGE_WAIT_MS)
        return context

    def new_page(self, **options):
        page = self._browser.new_page(**options)
        page.context.set_default_timeout(PAGE_WAIT_MS)
        return page


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder: $SIGNAL_SHARED_DIR, else <repo>/../shared. Only the long runs
    need it (marked long_data; `make soak` runs them): without it they skip, saying why, and
    the samples in tests/fixtures cover the same behaviour."""
    path = Path(os.environ.get("SIGNAL_SHARED_DIR") or REPO_ROOT.parent / "shared")
    if not path.is_dir():
        pytest.skip(f"long data run: no shared data folder at {path} (SIGNAL_SHARED_DIR)")
    return path
