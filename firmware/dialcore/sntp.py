"""SNTP (RFC 4330) without hardware: the request the dial sends, and what an answer says.

board/net.py sends and receives over a non-blocking UDP socket inside an asyncio task;
ntptime.settime() (the ESP32's own) would block every task for its whole wait instead.
"""

PORT = 123  # the NTP port, also the default of device_config.json's ntp_port
NTP_TO_UNIX = 2208988800  # seconds from 1900-01-01 (NTP's epoch) to 1970-01-01
# Leap indicator 0, version 4, mode 3 (client); the other 47 bytes zero.
REQUEST = bytes([0x23]) + bytes(47)


def parse(answer):
    """The Unix time an SNTP answer gives, in whole seconds; ValueError saying why not."""
    if len(answer) < 48:
        raise ValueError("NTP answer too short: " + str(len(answer)) + " bytes")
    mode = answer[0] & 7
    if mode != 4:  # 4: server
        raise ValueError("not an NTP server answer (mode " + str(mode) + ")")
    if answer[1] == 0:  # stratum 0: a "kiss of death", the server refuses to answer
        raise ValueError("NTP server refused (stratum 0)")
    seconds = answer[40] << 24 | answer[41] << 16 | answer[42] << 8 | answer[43]
    return seconds - NTP_TO_UNIX
