"""Setting a dial up through its setup form, end to end, on the virtual dial
(tests/support/virtual_dial.py: firmware/main.py unmodified on MicroPython's Unix port).

The board gets only the code and the libraries, as `shelter-signal device flash` copies them
for a dial with no config. It opens its setup Wi-Fi and serves the form on port 80 of the
setup network's address (127.0.0.1 here). A real Chromium fills the form as a volunteer does,
with the production broker's TLS port and its CA pasted as PEM; the dial saves, restarts by
itself, connects over TLS, and a turn reaches the database.
"""

import json
import os
import ssl

import pytest

from server import provision
from tests.firmware.conftest import BROKER_NAME
from tests.support.waiting import wait_until

DEVICE = "desk-setup"
SECRET = "secret-desk-setup"
SETUP_SSID_END = "0a1b2c"  # the last 3 bytes of the stand-in's machine.unique_id()


def test_a_dial_set_up_through_the_form_connects_over_tls_and_saves_a_turn(
    world, browser, tmp_path
):
    if os.geteuid() != 0:
        pytest.fail(
            "the dial's setup form serves on port 80 (board/setup_ap.py), and binding port 80"
            " needs root: run this test as root, as the test machines do",
            pytrace=False,
        )
    world.register(DEVICE, SECRET)
    # as `device flash --code-only` stages it: the compiled code and libraries, no config
    flash = provision.stage(tmp_path / DEVICE, world.vendor, config=False)
    ca_pem = world.broker.ca.cert_pem.bytes().decode()
    with world.dial(flash).power_on() as dial:
        dial.wait_screen("WI-FI SETUP", 30)
        assert dial.screen.shows(SETUP_SSID_END), "the setup Wi-Fi's name is on the screen"
        assert dial.screen.shows("key "), "and its key"
        dial.wait_log(f"form at http://{dial.ap_address}/", 30)  # listening

        page = browser.new_page()
        try:
            page.goto(f"http://{dial.ap_address}/")
            page.fill("input[name=wifi_ssid]", "ShelterStaff")
            page.fill("input[name=wifi_password]", "wifi-password")
            page.fill("input[name=mqtt_host]", BROKER_NAME)
            page.fill("input[name=mqtt_port]", str(world.broker.tls_port))
            page.check("input[name=mqtt_tls][type=checkbox]")
            page.fill("textarea[name=mqtt_ca]", ca_pem)
            page.fill("input[name=mqtt_user]", DEVICE)
            page.fill("input[name=mqtt_password]", SECRET)
            page.fill("input[name=device_id]", DEVICE)
            page.click("button")
            page.wait_for_selector("h1:text-is('Saved')")
            assert "ShelterStaff" in page.inner_text("body")
        finally:
            page.close()

        # machine.reset() after the "Saved" page: the board starts again, with the new config
        wait_until(
            lambda: len(dial.starts) == 2, 30, message=lambda: f"a restart; log:\n{dial.tail()}"
        )
        assert dial.logged("restart: new settings saved", ever=True)
        dial.wait_log("mqtt: connected", 60)
        dial.wait_screen("of 20", 30)  # the server's config: the 20-bed program
        dial.turn(3)
        dial.wait_screen("SAVED", 30)
        assert wait_until(lambda: world.current(DEVICE)).occupied == 3

    config = json.loads((flash / "device_config.json").read_text())
    assert config["mqtt_tls"] is True
    assert (config["mqtt_port"], config["mqtt_ca_file"]) == (world.broker.tls_port, "ca.der")
    assert (flash / "ca.der").read_bytes() == ssl.PEM_cert_to_DER_cert(ca_pem)
    assert not list(flash.glob("*.tmp")), "the temporary files were renamed into place"
