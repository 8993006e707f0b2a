"""Stand-in for the ESP32's `network` (Wi-Fi), for the virtual dial.

The station is "connected" while the test says the Wi-Fi is up (_link.wifi_up); the PC's
own network carries the packets either way, so a Wi-Fi loss is what the firmware and
mqtt_as see through isconnected(). The access point (the setup Wi-Fi) serves on the
address the test gave in DIAL_AP_ADDRESS.
"""

import os

import _link

STA_IF, AP_IF = 0, 1
AUTH_OPEN, AUTH_WPA2_PSK = 0, 3
STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
STAT_WRONG_PASSWORD, STAT_NO_AP_FOUND = 202, 201


class WLAN:
    def __init__(self, interface=STA_IF):
        self._interface = interface
        self._active = False
        self._wanted = False  # connect() called and not disconnect()ed

    def active(self, state=None):
        if state is None:
            return self._active
        self._active = bool(state)
        return None

    def connect(self, ssid=None, key=None):
        _link.send(b"wifi-connect " + (ssid or "").encode())
        self._wanted = True

    def disconnect(self):
        self._wanted = False

    def isconnected(self):
        _link.poll()
        return self._interface == STA_IF and self._wanted and _link.wifi_up[0]

    def status(self, name=None):
        if name == "rssi":
            return -61 if self.isconnected() else 0
        return STAT_GOT_IP if self.isconnected() else STAT_IDLE

    def config(self, *args, **kwargs):
        if args:
            return {"mac": bytes(6), "ssid": ""}.get(args[0])
        return None

    def ifconfig(self):
        address = os.getenv("DIAL_AP_ADDRESS", "192.168.4.1")
        return (address, "255.255.255.0", address, address)
