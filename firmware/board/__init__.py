"""The ESP32 side of the dial: thin drivers between the hardware and dialcore.

Each module owns one part (encoder, button, screen, led, net, transport) and offers an
`async run(...)` loop or the dialcore transport interface; supervisor feeds the watchdog,
setup_ap runs the setup Wi-Fi and its form, safe_mode reports in safe mode. Interrupt
handlers only count and set a flag; all work happens in asyncio tasks. Nothing here runs
on CPython.
"""
