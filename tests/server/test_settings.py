"""Settings are checked when loaded, with errors that name the bad value."""

import pytest

from server.settings import Settings


def test_stale_before_fresh_is_refused_naming_both_settings():
    with pytest.raises(ValueError, match=r"SIGNAL_STALE_MINUTES \(10\) must not be below"):
        Settings(_env_file=None, fresh_minutes=30, stale_minutes=10)


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Settings(_env_file=None, timezone="Mars/Olympus")
