"""The virtual dial (tests/support/virtual_dial.py) when the network fails around it.

The dial runs firmware/main.py unmodified against the production broker, the ingestor and
a database (tests/firmware/conftest.py); helpers and STALL_MS come from test_main.py.
"""

from tests.firmware.conftest import BROKER_NAME
from tests.firmware.test_main import STALL_MS, ready
from tests.support.waiting import wait_until


def failures(dial) -> int:
    """How many times this start's first connection has failed so far."""
    return dial.tail(10**6).count("mqtt: first connection failed")


def test_the_broker_name_not_resolving_at_the_first_connection_is_survived(world):
    """A power cut, and when the dial comes back the broker's name does not resolve (the
    shelter's router lost its DNS upstream): mqtt_as looks the name up only on a start's
    first connection, so this is when a DNS failure reaches the dial (issue 11)."""
    flash = world.provision("desk-dns")
    dial = world.dial(flash)
    try:
        dial.power_on()
        ready(dial)  # the server's config is on flash from here: the knob counts offline
        dial.turn(1)
        dial.wait_screen("SAVED", 30)
        dial.power_cut()

        dial.hosts.pop(BROKER_NAME)
        dial.write_hosts()
        dial.power_on()
        dial.wait_log("mqtt: first connection failed", 60)
        assert dial.logged("addrinfo")  # the name lookup is what failed
        dial.wait_screen("OFFLINE", 30)
        dial.turn(2)
        dial.wait_screen("3", 10)  # the count goes on, on the screen
        wait_until(lambda: failures(dial) >= 2, 60)  # and the dial keeps trying
        assert world.current("desk-dns").occupied == 1

        dial.hosts[BROKER_NAME] = "127.0.0.1"
        dial.write_hosts()
        wait_until(lambda: world.current("desk-dns").occupied == 3, 120)
        assert dial.logged("mqtt: connected")
        assert max(dial.stalls) < STALL_MS
        assert dial.starts == [1, 1]  # two power-ons: never restarted, never in safe mode
        assert not dial.logged("safe mode", ever=True)
        assert not world.dead_letters("desk-dns")
    finally:
        dial.close()
