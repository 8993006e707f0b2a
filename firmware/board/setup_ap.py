"""The setup Wi-Fi network and its web form (dialcore/setup_form.py) on the ESP32.

The dial opens its own WPA2 network, ShelterSignal-<last 3 bytes of its MAC>, with a
password drawn at every start and shown only on the screen: whoever can read the screen
can change the settings, nobody else. A phone joins it, opens http://192.168.4.1/ and
saves the form; the dial writes the broker's CA certificate if one was pasted (ca.der),
then device_config.json, and main.py restarts it.

main.py opens it when the dial cannot run (no or a broken device_config.json, button
held at power-up) and in safe mode, next to the dial's own Wi-Fi connection.
"""

import asyncio
import os

import machine
import network
from dialcore import devconfig, setup_form

PORT = 80  # plain HTTP: the network's WPA2 password is what keeps strangers out
READ_S = 10  # a phone sends a whole request at once; a client still sending after 10 s is dropped


def write_file(path, data):
    """Write bytes through a temporary file renamed over path: a power cut leaves old or new."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        os.rename(tmp, path)  # littlefs (the ESP32 default) replaces atomically
    except OSError:  # FAT refuses to rename over an existing file
        os.remove(path)
        os.rename(tmp, path)


class SetupAP:
    def __init__(self, config_path, raw, problem):
        self.config_path = config_path
        self.raw = raw  # device_config.json as it is now (None if missing)
        self.problem = problem  # why the dial is here, shown above the form
        self.saved = asyncio.Event()  # set once the form has written a new config
        ap = network.WLAN(network.AP_IF)
        ap.active(True)
        # Drawn with the radio on: only then is the ESP32's random number generator truly random.
        self.key = setup_form.ap_key(os.urandom(setup_form.KEY_LENGTH))
        self.ssid = setup_form.ap_ssid(machine.unique_id())
        ap.config(ssid=self.ssid, key=self.key, security=network.AUTH_WPA2_PSK)
        self.address = ap.ifconfig()[0]
        print("setup: Wi-Fi", self.ssid, "- form at http://" + self.address + "/")

    def screen_lines(self):
        """How to reach the form, in lines of at most 16 characters for the screen."""
        cut = len(setup_form.SSID_PREFIX)
        return [
            "Join Wi-Fi",
            self.ssid[:cut],
            self.ssid[cut:],
            "key " + self.key,
            "then browse to",
            self.address,
        ]

    async def serve(self, beat):
        """Forever: answer the form's requests (each in its own task), on the setup Wi-Fi's
        own address only: in safe mode the dial is on the shelter's Wi-Fi too, whose other
        users must not reach a form that changes its settings."""
        await asyncio.start_server(self._client, self.address, PORT)
        while True:
            beat()
            await asyncio.sleep(1)

    async def _read(self, reader):
        """One request's bytes: the head line by line, then Content-Length bytes of body."""
        head = b""
        while len(head) <= setup_form.MAX_HEAD:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            head += line
        head = head.rstrip(b"\r\n")
        length = setup_form.body_length(head)
        body = await reader.readexactly(length) if length else b""
        return head + b"\r\n\r\n" + body

    async def _client(self, reader, writer):
        new = der = None
        try:
            try:
                request = await asyncio.wait_for(self._read(reader), READ_S)
            except setup_form.HttpError as e:  # too large: answer without reading it all
                response = setup_form.refuse(e)
            else:
                response, new, der = setup_form.handle(request, self.raw, self.problem)
            if new is not None:
                try:
                    # The CA first, the config last: a power cut between leaves the old config
                    # in use (with the new CA if it read the same file; saving again fixes it).
                    if der is not None:
                        write_file(new["mqtt_ca_file"], der)
                    devconfig.write(self.config_path, new)
                except OSError as e:  # flash full or failing: say so, keep the old file
                    new = None
                    response = setup_form.refuse(
                        setup_form.HttpError("500 Internal Server Error", "not saved: " + repr(e))
                    )
            writer.write(response)
            await writer.drain()
        # The phone left or stalled. MicroPython's asyncio.TimeoutError is not the builtin one.
        except (OSError, EOFError, asyncio.TimeoutError) as e:  # noqa: UP041
            print("setup: request dropped:", repr(e))
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:  # already reset by the phone: closed all the same
                pass
        if new is not None:
            print("setup: new settings saved for", new["device_id"])
            self.saved.set()
