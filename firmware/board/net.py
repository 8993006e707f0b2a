"""Wall-clock time over NTP, and the health figures telemetry reports.

Wi-Fi itself belongs to mqtt_as (board/transport.py); this module only reads it. Until
a time server has answered, unix_time() returns None and commits carry "ts": null,
which the protocol allows: the server then uses its own receive time.
"""

import asyncio
import gc

import network
from dialcore.clock import unix_time

FALLBACK_NTP_HOST = "pool.ntp.org"  # tried when the configured server does not answer
NTP_TIMEOUT_S = 1  # one blocking query; the answer comes in well under 100 ms on a LAN
RETRY_S = (10, 30, 60, 300)  # after failures: soon at first, then every 5 minutes
RESYNC_S = 6 * 3600  # the ESP32 clock drifts a few seconds a day; 4 syncs a day keep it close
EARLIEST = 1500000000  # 2017: anything before is an unset clock (state.schema.json's minimum)


class Net:
    def __init__(self, ntp_host):
        self.ntp_host = ntp_host
        self.synced = False
        self._sta = network.WLAN(network.STA_IF)

    def unix_time(self):
        """Unix seconds once NTP has answered, else None (App's unix_time callable)."""
        if not self.synced:
            return None
        now = unix_time()
        return now if now >= EARLIEST else None

    def rssi(self):
        """Wi-Fi signal in dBm, or None while not connected."""
        if not self._sta.isconnected():
            return None
        try:
            value = self._sta.status("rssi")
        except (OSError, ValueError):
            return None
        return value if isinstance(value, int) and -127 <= value <= 0 else None

    def health(self):
        """App's health callable: what telemetry reports besides the App's own figures."""
        gc.collect()  # free heap after collection: garbage says nothing about leaks
        return {"rssi": self.rssi(), "free_heap": gc.mem_free()}

    def sync(self):
        """Set the clock from NTP; True on success. Blocks up to NTP_TIMEOUT_S per server."""
        import ntptime  # part of the ESP32 firmware

        ntptime.timeout = NTP_TIMEOUT_S
        hosts = [self.ntp_host]
        if self.ntp_host != FALLBACK_NTP_HOST:
            hosts.append(FALLBACK_NTP_HOST)
        for host in hosts:
            ntptime.host = host
            try:
                ntptime.settime()  # sets the RTC to UTC
            except (OSError, OverflowError, IndexError) as e:  # timeout, DNS, short answer
                print("ntp:", host, "did not answer:", repr(e))
                continue
            if unix_time() >= EARLIEST:
                self.synced = True
                print("ntp: clock set from", host, "unix time", unix_time())
                return True
        return False

    async def keep_time(self, beat):
        """Forever: sync once Wi-Fi is up, then every RESYNC_S; retry failures with backoff."""
        failures = 0
        while True:
            if self._sta.isconnected():
                if self.sync():
                    failures = 0
                    wait = RESYNC_S
                else:
                    wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                    failures += 1
            else:
                wait = 2  # Wi-Fi not up yet: look again soon
            for _ in range(wait):  # sleep in 1 s steps so the supervisor sees us alive
                beat()
                await asyncio.sleep(1)
