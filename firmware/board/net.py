"""Wall-clock time over NTP, and the health figures telemetry reports.

Wi-Fi itself belongs to mqtt_as (board/transport.py); this module only reads it.

The clock: the ESP32's RTC keeps counting through every reset but a power cut, so a time
it holds after a watchdog or software reset is still right, and commits keep their
time at once. After a power cut it starts again at its epoch, before EARLIEST: commits
then carry "ts": null (the server uses its own receive time) until NTP answers.

NTP never blocks the dial: the query goes out over a non-blocking UDP socket and the
answer is awaited in asyncio. Only the host name lookup blocks (MicroPython has no
asynchronous DNS): it is done while the broker link is up, so DNS is known to work,
and its result is kept until an answer fails to come.
"""

import asyncio
import gc
import socket
import time

import network
from dialcore import sntp
from dialcore.clock import EPOCH_OFFSET, ticks_diff, ticks_ms, unix_time
from machine import RTC

FALLBACK_NTP_HOST = "pool.ntp.org"  # tried when the configured server does not answer
ANSWER_MS = 1000  # an answer takes well under 100 ms on a LAN, a few hundred over the internet
POLL_MS = 20  # while waiting for the answer: as often as the encoder is read
RETRY_S = (10, 30, 60, 300)  # after failures: soon at first, then every 5 minutes
RESYNC_S = 6 * 3600  # the ESP32 clock drifts a few seconds a day; 4 syncs a day keep it close
EARLIEST = 1500000000  # 2017: anything before is an unset clock (state.schema.json's minimum)


class Net:
    def __init__(self, ntp_host, ntp_port=sntp.PORT, online=None):
        self.ntp_host = ntp_host
        self.ntp_port = ntp_port
        self.online = online  # returns True while the broker link is up (DNS works then)
        self._sta = network.WLAN(network.STA_IF)
        self._addresses = {}  # host -> resolved address, until a query to it fails

    def unix_time(self):
        """Unix seconds while the RTC holds a real time, else None (App's unix_time)."""
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

    def _address(self, host, port):
        if host not in self._addresses:
            self._addresses[host] = socket.getaddrinfo(host, port)[0][-1]
        return self._addresses[host]

    async def query(self, host, port):
        """The Unix time from one NTP server; OSError or ValueError if it does not answer."""
        address = self._address(host, port)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.setblocking(False)
            udp.sendto(sntp.REQUEST, address)
            started = ticks_ms()
            while ticks_diff(ticks_ms(), started) < ANSWER_MS:
                try:
                    return sntp.parse(udp.recv(64))
                except OSError:  # nothing yet (EAGAIN)
                    await asyncio.sleep_ms(POLL_MS)
            raise OSError("no answer in " + str(ANSWER_MS) + " ms")
        finally:
            udp.close()

    async def sync(self):
        """Set the RTC from NTP; True on success."""
        servers = [(self.ntp_host, self.ntp_port)]
        if self.ntp_host != FALLBACK_NTP_HOST:
            servers.append((FALLBACK_NTP_HOST, sntp.PORT))
        for host, port in servers:
            try:
                now = await self.query(host, port)
            except (OSError, ValueError, IndexError) as e:  # timeout, DNS, a bad answer
                print("ntp:", host, "did not answer:", repr(e))
                self._addresses.pop(host, None)  # look the name up again next time
                continue
            if now >= EARLIEST:
                t = time.gmtime(now - EPOCH_OFFSET)
                RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))
                print("ntp: clock set from", host, "unix time", now)
                return True
        return False

    async def keep_time(self, beat):
        """Forever: sync once the broker link is up, then every RESYNC_S; back off on failures."""
        failures = 0
        while True:
            if self.online is None or self.online():
                if await self.sync():
                    failures = 0
                    wait = RESYNC_S
                else:
                    wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                    failures += 1
            else:
                wait = 2  # not connected yet: look again soon
            for _ in range(wait):  # sleep in 1 s steps so the supervisor sees us alive
                beat()
                await asyncio.sleep(1)
