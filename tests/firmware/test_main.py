"""firmware/main.py, unmodified, on MicroPython's Unix port: the virtual dial
(tests/support/virtual_dial.py) against the production broker, the ingestor and a database."""

from tests.support.waiting import wait_until


def test_a_provisioned_dial_connects_over_tls_and_a_turn_is_saved(world):
    flash = world.provision("desk-main")
    with world.dial(flash).power_on() as dial:
        dial.wait_log("mqtt: connected", 60)
        dial.wait_screen("ready", 30)
        dial.turn(3)
        dial.wait_screen("SAVED", 30)
        current = wait_until(lambda: world.current("desk-main"))
        assert current.occupied == 3
        assert dial.screen.shows("3")
